// Keyboard for the "Pair review" panel: y, n, l, s and u click the panel's button whose
// label ends in "(y)", "(n)", ... The App loads this file as the plugin's script; it
// registers nothing else and ignores key presses while the user types in a field.
(function () {
  if (window.__redundancyReviewKeys) return;
  window.__redundancyReviewKeys = true;
  const KEYS = ["y", "n", "l", "s", "u"];
  document.addEventListener(
    "keydown",
    (event) => {
      const key = (event.key || "").toLowerCase();
      if (!KEYS.includes(key) || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      const panel = document.querySelector('[data-cy="panel-content-pair_review"]');
      if (!panel) return;
      const button = Array.from(panel.querySelectorAll("button")).find(
        (b) => !b.disabled && b.textContent.trim().endsWith(`(${key})`)
      );
      if (!button) return;
      event.preventDefault();
      event.stopPropagation();
      button.click();
    },
    true
  );
})();
