// pixelnb KeyField: a labelled password box for the Luma API key. The key goes to the
// kernel in a one-off custom message and the box is cleared; it is never a widget trait,
// so it never lands in widget state or a saved notebook. Once taken, a lasting line says
// so in place of the box; the kernel brings the box back (asking) when Luma refuses it.
function render({ model, el }) {
  el.classList.add("pixelnb-keyfield");
  const label = document.createElement("label");
  label.className = "pixelnb-key-label";
  label.textContent = "Luma API key";
  const input = document.createElement("input");
  input.type = "password";
  input.placeholder = "luma-…";
  input.autocomplete = "off";
  input.className = "pixelnb-key-input";
  input.id = `pixelnb-key-${Math.random().toString(36).slice(2)}`;
  label.htmlFor = input.id;
  const button = document.createElement("button");
  button.textContent = "Use key";
  button.className = "pixelnb-key-button jupyter-button";
  const box = document.createElement("span");
  box.className = "pixelnb-key-box";
  box.append(label, input, button);
  const status = document.createElement("span");
  status.className = "pixelnb-key-status";
  el.append(box, status);
  const send = () => {
    if (!input.value) return;
    model.send({ kind: "api-key", value: input.value });
    input.value = "";
  };
  button.addEventListener("click", send);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") send(); });
  const show = () => {
    const asking = model.get("asking");
    box.style.display = asking ? "" : "none";
    status.textContent = (asking ? "" : "✓ ") + model.get("status");
    el.classList.toggle("pixelnb-key-taken", !asking);
  };
  model.on("change:status", show);
  model.on("change:asking", show);
  show();
}
export default { render };
