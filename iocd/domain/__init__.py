"""Pure domain values: indicator types, actions, canonical values, indicators. No I/O."""
