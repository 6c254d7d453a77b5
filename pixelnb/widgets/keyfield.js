// pixelnb KeyField: a password box for the Luma API key. The key goes to the kernel in a
// one-off custom message and the box is cleared; it is never a widget trait, so it never
// lands in widget state or a saved notebook.
function render({ model, el }) {
  el.classList.add("pixelnb-keyfield");
  const input = document.createElement("input");
  input.type = "password";
  input.placeholder = "Luma API key (luma-...)";
  input.autocomplete = "off";
  input.className = "pixelnb-key-input";
  const button = document.createElement("button");
  button.textContent = "Use key";
  button.className = "pixelnb-key-button";
  const status = document.createElement("span");
  status.className = "pixelnb-key-status";
  el.append(input, button, status);
  const send = () => {
    if (!input.value) return;
    model.send({ kind: "api-key", value: input.value });
    input.value = "";
  };
  button.addEventListener("click", send);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") send(); });
  const show = () => { status.textContent = model.get("status"); };
  model.on("change:status", show);
  show();
}
export default { render };
