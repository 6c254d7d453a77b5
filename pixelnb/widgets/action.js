// pixelnb ActionButton: disabled here, in the browser, the moment it is clicked, so a
// double click sends one click; enabled again when the kernel says {type: "done"}.
function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "pixelnb-action jupyter-button";
  el.appendChild(button);
  let waiting = false;
  const show = () => {
    button.textContent = model.get("label");
    button.classList.toggle("mod-primary", model.get("primary"));
    button.disabled = waiting || model.get("disabled");
  };
  button.addEventListener("click", () => {
    if (button.disabled) return;
    waiting = true;
    show();
    model.send({ type: "click" });
  });
  model.on("msg:custom", (msg) => { if (msg.type === "done") { waiting = false; show(); } });
  for (const name of ["label", "primary", "disabled"]) model.on(`change:${name}`, show);
  show();
}
export default { render };
