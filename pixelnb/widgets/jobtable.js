// pixelnb JobTable: one table of jobs; a click on a row selects it (model "selected").
function render({ model, el }) {
  el.classList.add("pixelnb-jobtable");
  const table = document.createElement("table");
  table.className = "pixelnb-jobs";
  el.appendChild(table);
  const columns = [["id", "job"], ["prompt", "prompt"], ["state", "state"], ["stage", "stage"],
    ["progress", "progress"], ["elapsed", "elapsed"], ["luma_id", "Luma id"]];
  function draw() {
    const head = document.createElement("tr");
    for (const [, label] of columns) {
      const th = document.createElement("th");
      th.textContent = label;
      head.appendChild(th);
    }
    const rows = model.get("rows").map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      tr.classList.toggle("pixelnb-selected", row.id === model.get("selected"));
      tr.classList.add(`pixelnb-state-${row.state}`);
      for (const [key] of columns) {
        const td = document.createElement("td");
        td.className = `pixelnb-col-${key}`;
        td.textContent = key === "id" ? String(row.id).slice(0, 8) : String(row[key] ?? "");
        td.title = String(row[key === "prompt" ? "prompt" : key] ?? "");  // the whole text on hover
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => { model.set("selected", row.id); model.save_changes(); });
      return tr;
    });
    table.replaceChildren(head, ...rows);
    el.style.display = rows.length ? "" : "none";
  }
  model.on("change:rows", draw);
  model.on("change:selected", draw);
  draw();
}
export default { render };
