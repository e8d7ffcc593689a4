// Copy buttons: a button with data-copies="ID" copies the text of each
// <li> in the element ID, one per line. Without this script the button
// stays hidden and the page's download link still works.
"use strict";
for (const button of document.querySelectorAll("button[data-copies]")) {
  const list = document.getElementById(button.dataset.copies);
  if (!list || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = Array.from(list.querySelectorAll("li"), (li) => li.textContent.trim()).join("\n");
    try {
      await navigator.clipboard.writeText(text + "\n");
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed: use the download";
    }
  });
}
