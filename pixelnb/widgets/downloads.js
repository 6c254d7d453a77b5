// pixelnb Downloads: links to exported files. A click asks the kernel for the bytes
// ({type: "get", name}); they come back as one binary buffer and are saved from a Blob.
function human(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} kB` : `${(n / 1048576).toFixed(1)} MB`;
}
function render({ model, el }) {
  el.classList.add("pixelnb-downloads");
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "missing") { el.dataset.error = `${msg.name} is no longer on disk`; draw(); return; }
    if (msg.type !== "file" || !buffers || !buffers.length) return;
    const url = URL.createObjectURL(new Blob([buffers[0]], { type: msg.mime || "application/octet-stream" }));
    const a = document.createElement("a");
    a.href = url; a.download = msg.name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
  function draw() {
    const files = model.get("files");
    el.replaceChildren();
    if (!files.length) return;
    const lead = document.createElement("span");
    lead.textContent = "Saved to ";
    const folder = document.createElement("code");
    folder.textContent = model.get("folder");
    el.append(lead, folder, document.createTextNode(": "));
    files.forEach((f, i) => {
      const a = document.createElement("a");
      a.href = "#"; a.className = "pixelnb-link"; a.dataset.name = f.name;
      a.textContent = f.name;
      a.title = `download ${f.name} (${human(f.size)})`;
      a.addEventListener("click", (e) => { e.preventDefault(); model.send({ type: "get", name: f.name }); });
      if (i) el.append(document.createTextNode(" · "));
      el.append(a, document.createTextNode(` (${human(f.size)})`));
    });
    if (el.dataset.error) { const s = document.createElement("span"); s.textContent = ` — ${el.dataset.error}`; el.append(s); }
  }
  model.on("change:files", () => { delete el.dataset.error; draw(); });
  draw();
}
export default { render };
