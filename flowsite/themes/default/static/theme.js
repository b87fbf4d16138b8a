// Applies the reader's saved light/dark choice before first paint (a file, not inline: strict CSP).
(function () {
  try {
    var t = localStorage.getItem("flowsite-theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) { /* storage may be off */ }
})();
