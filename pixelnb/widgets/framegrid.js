// pixelnb FrameGrid: a contact sheet of frames that fills in as they arrive, or plays them.
//
// Model state (the final set): data + encoding ("indexed": zlib-deflated palette indices
// with palette; "jpeg": one JPEG sheet, columns frames per row, each in a cell of its
// width and height rounded up to 8), width, height, n_frames,
// zoom, title, view ("grid" | "play"), fps, display_width. Live frames arrive as custom
// messages {type: "append", count, width, height} with one binary buffer of RGB bytes, and
// {type: "clear"}; each frame is drawn once, into its own small canvas.

function bytes(dv) {
  if (!dv) return new Uint8Array(0);
  if (dv instanceof Uint8Array) return dv;
  if (dv instanceof ArrayBuffer) return new Uint8Array(dv);
  return new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
}

async function inflate(data) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function render({ model, el }) {
  el.classList.add("pixelnb-framegrid", "pixelnb-live");
  const title = document.createElement("div");
  title.className = "pixelnb-grid-title";
  const grid = document.createElement("div");
  grid.className = "pixelnb-grid";
  const screen = document.createElement("canvas");
  screen.className = "pixelnb-screen pixelnb-checker";  // clear pixels show the checkerboard
  el.append(title, grid, screen);
  let shown = 0;  // the frame on the play screen
  let timer = 0;

  function frameCanvas(w, h) {
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    c.dataset.index = String(grid.children.length);
    grid.appendChild(c);
    return c;
  }

  function addRGB(rgb, f, w, h) {
    const img = new ImageData(w, h);
    const base = f * w * h * 3;
    for (let p = 0; p < w * h; p++) {
      img.data[p * 4] = rgb[base + p * 3];
      img.data[p * 4 + 1] = rgb[base + p * 3 + 1];
      img.data[p * 4 + 2] = rgb[base + p * 3 + 2];
      img.data[p * 4 + 3] = 255;
    }
    frameCanvas(w, h).getContext("2d").putImageData(img, 0, 0);
  }

  function layout() {
    // The drawn frames know their size even before the width and height traits arrive.
    const first = grid.firstChild;
    const w = first ? first.width : model.get("width"), h = first ? first.height : model.get("height");
    const z = model.get("zoom") || 1;
    const play = model.get("view") === "play";
    grid.style.display = play ? "none" : "";
    screen.style.display = play ? "" : "none";
    for (const c of grid.children) { c.style.width = `${w * z}px`; c.style.height = `${h * z}px`; }
    if (play && w && h) {
      const dw = model.get("display_width");
      screen.width = w; screen.height = h;
      screen.style.width = `${dw}px`; screen.style.height = `${Math.round((dw * h) / w)}px`;
    }
    el.dataset.frames = String(grid.children.length);
    title.style.display = grid.children.length ? "" : "none";  // no title over an empty grid
  }

  function show(i) {
    const src = grid.children[i];
    if (!src || model.get("view") !== "play") return;
    shown = i;
    const ctx = screen.getContext("2d");
    ctx.clearRect(0, 0, screen.width, screen.height);  // a clear pixel must not show the last frame
    ctx.drawImage(src, 0, 0);
    screen.dataset.frame = String(i);
  }

  function restartTimer() {
    if (timer) clearInterval(timer);
    timer = 0;
    if (model.get("view") !== "play") return;
    timer = setInterval(() => {
      const n = grid.children.length;
      if (n > 1 && model.get("encoding")) show((shown + 1) % n);  // plays once final
    }, 1000 / Math.max(0.1, model.get("fps")));
  }

  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "clear") { grid.replaceChildren(); layout(); return; }
    if (msg.type !== "append" || !buffers || !buffers.length) return;
    const rgb = bytes(buffers[0]);
    if (grid.firstChild && Number(grid.firstChild.width) !== msg.width) grid.replaceChildren();
    for (let f = 0; f < msg.count; f++) addRGB(rgb, f, msg.width, msg.height);
    layout();
    show(grid.children.length - 1);  // live: the newest frame
  });

  let loading = 0;
  async function load() {
    const ticket = ++loading;
    const w = model.get("width"), h = model.get("height"), n = model.get("n_frames");
    const enc = model.get("encoding"), data = bytes(model.get("data"));
    title.textContent = model.get("title");
    if (!enc) { layout(); return; }  // live frames (if any) are already drawn
    const fresh = [];
    if (enc === "indexed") {
      const idx = await inflate(data);
      const pal = bytes(model.get("palette"));
      const clear = model.get("transparent");  // drawn clear, over the checkerboard
      for (let f = 0; f < n && idx.length >= (f + 1) * w * h; f++) {
        const c = document.createElement("canvas");
        c.width = w; c.height = h;
        c.classList.add("pixelnb-checker");
        const img = new ImageData(w, h);
        for (let p = 0; p < w * h; p++) {
          const i = idx[f * w * h + p], k = i * 3;
          img.data.set([pal[k], pal[k + 1], pal[k + 2], i === clear ? 0 : 255], p * 4);
        }
        c.getContext("2d").putImageData(img, 0, 0);
        fresh.push(c);
      }
    } else if (enc === "jpeg") {
      const sheet = await createImageBitmap(new Blob([data], { type: "image/jpeg" }));
      const cols = model.get("columns") || 1;
      const cw = Math.ceil(w / 8) * 8, ch = Math.ceil(h / 8) * 8;  // cells align to JPEG blocks
      for (let f = 0; f < n; f++) {
        const c = document.createElement("canvas");
        c.width = w; c.height = h;
        c.getContext("2d").drawImage(sheet, (f % cols) * cw, Math.floor(f / cols) * ch, w, h, 0, 0, w, h);
        fresh.push(c);
      }
    }
    if (ticket !== loading) return;
    fresh.forEach((c, i) => { c.dataset.index = String(i); });
    grid.replaceChildren(...fresh);
    layout();
    show(0);
    restartTimer();
  }

  model.on("change:data", load);
  model.on("change:encoding", load);
  model.on("change:title", () => { title.textContent = model.get("title"); });
  for (const name of ["zoom", "view", "display_width"]) model.on(`change:${name}`, () => { layout(); show(shown); restartTimer(); });
  model.on("change:fps", restartTimer);
  load();
  return () => { if (timer) clearInterval(timer); };
}

export default { render };
