// iocd portal: small enhancements only; every flow works without this file.
"use strict";
// Press "/" anywhere outside a text field to jump to the search box.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  var search = document.getElementById("site-search");
  if (search) { event.preventDefault(); search.focus(); search.select(); }
});
