// pixelnb FrameGrid: a contact sheet of frames that fills in as they arrive.
//
// Model state: rgb (uint8 bytes, n_frames*height*width*3: the final set), width, height,
// n_frames, zoom, title. Live frames arrive as custom messages {type: "append", count,
// width, height} with one binary buffer, and {type: "clear"}; each frame is drawn once.

function bytes(dv) {
  if (!dv) return new Uint8Array(0);
  if (dv instanceof Uint8Array) return dv;
  if (dv instanceof ArrayBuffer) return new Uint8Array(dv);
  return new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
}

function render({ model, el }) {
  el.classList.add("pixelnb-framegrid");
  const title = document.createElement("div");
  title.className = "pixelnb-grid-title";
  const grid = document.createElement("div");
  grid.className = "pixelnb-grid";
  el.append(title, grid);

  function paint(canvas, rgb, f, w, h) {
    const img = new ImageData(w, h);
    const base = f * w * h * 3;
    for (let p = 0; p < w * h; p++) {
      img.data[p * 4] = rgb[base + p * 3];
      img.data[p * 4 + 1] = rgb[base + p * 3 + 1];
      img.data[p * 4 + 2] = rgb[base + p * 3 + 2];
      img.data[p * 4 + 3] = 255;
    }
    canvas.getContext("2d").putImageData(img, 0, 0);
  }

  function add(rgb, f, w, h, z) {
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    c.style.width = `${w * z}px`; c.style.height = `${h * z}px`;
    c.dataset.index = String(grid.children.length);
    paint(c, rgb, f, w, h);
    grid.appendChild(c);
  }

  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "clear") { grid.replaceChildren(); el.dataset.frames = "0"; return; }
    if (msg.type !== "append" || !buffers || !buffers.length) return;
    const rgb = bytes(buffers[0]);
    const z = model.get("zoom") || 1;
    if (grid.firstChild && Number(grid.firstChild.width) !== msg.width) grid.replaceChildren();
    for (let f = 0; f < msg.count; f++) add(rgb, f, msg.width, msg.height, z);
    el.dataset.frames = String(grid.children.length);
  });

  function update() {
    const w = model.get("width"), h = model.get("height"), n = model.get("n_frames");
    const z = model.get("zoom") || 1;
    const rgb = bytes(model.get("rgb"));
    title.textContent = model.get("title");
    if (grid.children.length > n || (grid.firstChild && Number(grid.firstChild.width) !== w)) grid.replaceChildren();
    // Frames not yet drawn from live messages (a reopened notebook, or a set()) come from rgb.
    for (let f = grid.children.length; f < n && rgb.length >= (f + 1) * w * h * 3; f++) add(rgb, f, w, h, z);
    for (const c of grid.children) { c.style.width = `${w * z}px`; c.style.height = `${h * z}px`; }
    el.dataset.frames = String(grid.children.length);
  }

  model.on("change:rgb", update);
  model.on("change:zoom", update);
  model.on("change:title", update);
  update();
}

export default { render };
