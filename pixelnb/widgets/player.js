// pixelnb Player: plays a Sprite on a canvas with crisp pixels. The play timer runs here,
// in the browser; Python only hears about pauses and scrubbing (playing, frame).
//
// Model state: indices (uint8 bytes, frames*height*width; zlib-deflated when encoding is
// "deflate"), palette (uint8 bytes, rgb*k), width, height, n_frames, fps, playing, frame,
// mode ("loop" | "pingpong"), zoom, background ("checker" | "solid"), background_color,
// transparent (the palette index drawn clear, -1 for none).

function bytes(dv) {
  if (!dv) return new Uint8Array(0);
  if (dv instanceof Uint8Array) return dv;
  if (dv instanceof ArrayBuffer) return new Uint8Array(dv);
  return new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
}

// zlib data ("deflate" in the Compression Streams API), as Python's zlib.compress makes it.
async function inflate(data) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.appendChild(c);
  return node;
}

function render({ model, el: root }) {
  root.classList.add("pixelnb-player", "pixelnb-live");
  const canvas = el("canvas", { class: "pixelnb-canvas", "data-frame": "0" });
  const off = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  const octx = off.getContext("2d");

  const play = el("button", { class: "pixelnb-play", title: "play / pause" });
  const scrub = el("input", { class: "pixelnb-scrub", type: "range", min: "0", value: "0", step: "1" });
  const fps = el("input", { class: "pixelnb-fps", type: "number", min: "0.1", max: "240", step: "any", title: "frames per second" });
  const mode = el("select", { class: "pixelnb-mode", title: "loop or ping-pong" }, [
    el("option", { value: "loop", text: "loop" }), el("option", { value: "pingpong", text: "ping-pong" })]);
  const zoom = el("select", { class: "pixelnb-zoom", title: "zoom" },
    [1, 2, 3, 4, 6, 8, 12, 16].map((z) => el("option", { value: String(z), text: `${z}×` })));
  const bg = el("select", { class: "pixelnb-bg", title: "background" }, [
    el("option", { value: "checker", text: "checker" }), el("option", { value: "solid", text: "solid" })]);
  const label = el("span", { class: "pixelnb-label" });
  const strip = el("div", { class: "pixelnb-strip" });
  root.appendChild(el("div", { class: "pixelnb-stage" }, [canvas]));
  root.appendChild(el("div", { class: "pixelnb-controls" }, [play, scrub, label, fps, el("span", { text: "fps" }), mode, zoom, bg]));
  root.appendChild(strip);

  let frames = [];
  let t = 0;
  let dir = 1;
  let acc = 0;
  let last = null;
  let raf = null;

  let decoding = 0;  // the newest decode wins when the sprite changes again meanwhile
  async function decode() {
    const ticket = ++decoding;
    const w = model.get("width"), h = model.get("height"), n = model.get("n_frames");
    const pal = bytes(model.get("palette"));
    let idx = bytes(model.get("indices"));
    if (model.get("encoding") === "deflate" && idx.length) idx = await inflate(idx);
    if (ticket !== decoding) return;
    frames = [];
    if (!w || !h || !n || idx.length < w * h * n) { strip.replaceChildren(); return; }
    const k = Math.floor(pal.length / 3);
    const lut = new Uint32Array(256);
    const view = new DataView(lut.buffer);
    for (let i = 0; i < k; i++) {
      // RGBA bytes in memory order, whatever the machine's endianness.
      view.setUint8(i * 4, pal[i * 3]); view.setUint8(i * 4 + 1, pal[i * 3 + 1]);
      view.setUint8(i * 4 + 2, pal[i * 3 + 2]); view.setUint8(i * 4 + 3, 255);
    }
    // The clear index draws nothing: the checkerboard (or solid colour) shows through.
    const clear = model.get("transparent");
    if (clear >= 0 && clear < 256) lut[clear] = 0;
    for (let f = 0; f < n; f++) {
      const img = new ImageData(w, h);
      const out = new Uint32Array(img.data.buffer);
      const base = f * w * h;
      for (let p = 0; p < w * h; p++) out[p] = lut[idx[base + p]];
      frames.push(img);
    }
    off.width = w; off.height = h;
    strip.replaceChildren(...Array.from({ length: k }, (_, i) => {
      const hex = "#" + [0, 1, 2].map((c) => pal[i * 3 + c].toString(16).padStart(2, "0")).join("");
      return el("span", { class: "pixelnb-swatch", title: hex, style: `background:${hex}` });
    }));
    scrub.max = String(Math.max(0, n - 1));
    if (t >= n) t = 0;
  }

  function draw() {
    const w = model.get("width"), h = model.get("height"), z = model.get("zoom") || 1;
    if (canvas.width !== w * z || canvas.height !== h * z) { canvas.width = w * z; canvas.height = h * z; }
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (frames.length) {
      octx.putImageData(frames[t], 0, 0);
      ctx.drawImage(off, 0, 0, w * z, h * z);
    }
    canvas.dataset.frame = String(t);
    scrub.value = String(t);
    label.textContent = frames.length ? `${t + 1}/${frames.length}` : "";
  }

  function style() {
    const solid = model.get("background") === "solid";
    canvas.classList.toggle("pixelnb-checker", !solid);
    canvas.style.backgroundColor = solid ? model.get("background_color") : "";
    play.textContent = model.get("playing") ? "❚❚" : "▶";
    fps.value = String(model.get("fps"));
    mode.value = model.get("mode");
    zoom.value = String(model.get("zoom"));
    bg.value = model.get("background");
  }

  function step() {
    const n = frames.length;
    if (n < 2) return;
    if (model.get("mode") === "pingpong") {
      if (t + dir >= n || t + dir < 0) dir = -dir;
      t += dir;
    } else {
      t = (t + 1) % n;
    }
  }

  // The animation loop runs only while playing: a paused player costs the page nothing.
  function tick(now) {
    if (!model.get("playing")) { raf = 0; last = null; return; }
    raf = requestAnimationFrame(tick);
    if (last === null) last = now;
    acc += now - last;
    last = now;
    const dur = 1000 / Math.max(0.1, model.get("fps"));
    let moved = false;
    while (acc >= dur) { acc -= dur; step(); moved = true; }
    if (moved) draw();
  }

  function tell() {
    model.set("frame", t);
    model.save_changes();
  }

  play.addEventListener("click", () => {
    const playing = !model.get("playing");
    model.set("playing", playing);
    if (!playing) model.set("frame", t);
    model.save_changes();
  });
  scrub.addEventListener("input", () => {
    t = Number(scrub.value);
    model.set("playing", false);
    draw();
    tell();
  });
  // "change" fires on Enter as well as on leaving the box.
  fps.addEventListener("change", () => {
    model.set("fps", Math.min(240, Math.max(0.1, Number(fps.value) || 1)));
    model.save_changes();
  });
  mode.addEventListener("change", () => { model.set("mode", mode.value); model.save_changes(); });
  zoom.addEventListener("change", () => { model.set("zoom", Number(zoom.value)); model.save_changes(); });
  bg.addEventListener("change", () => { model.set("background", bg.value); model.save_changes(); });

  const redecode = async () => { await decode(); draw(); };
  model.on("change:indices", redecode);
  model.on("change:palette", redecode);
  model.on("change:transparent", redecode);
  model.on("change:n_frames", redecode);
  model.on("change:zoom", () => { style(); draw(); });
  model.on("change:frame", () => {
    const f = model.get("frame");
    if (f !== t && f >= 0 && f < frames.length) { t = f; draw(); }
  });
  for (const name of ["playing", "fps", "mode", "background", "background_color"]) model.on(`change:${name}`, style);
  model.on("change:playing", () => {
    if (model.get("playing") && !raf) { last = null; raf = requestAnimationFrame(tick); }
  });

  t = Math.max(0, Math.min(model.get("frame") || 0, model.get("n_frames") - 1));
  style();
  draw();
  redecode();
  raf = model.get("playing") ? requestAnimationFrame(tick) : 0;
  return () => { if (raf) cancelAnimationFrame(raf); raf = 0; };
}

export default { render };
