// Deskway browser viewer: loads the WebAssembly core (cmd/deskway-wasm,
// checked against its Subresource Integrity hash), keeps the device key
// and the host pins in IndexedDB, and wires the page to the core: the
// canvas and its input, the toolbar, the clipboard and the status line.
// The support code and the host access password never leave this page
// except inside the end-to-end handshake the core runs.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const me = $("deskway-viewer");
  const screen = $("screen");
  const cursor = $("cursor");
  const viewport = $("viewport");

  // What the page knows; also read by the end-to-end test.
  const view = {
    state: "idle", message: "", kind: "", stats: {}, clipboard: "", cursor: null,
    host: { x: 0, y: 0, visible: false }, viewOnly: false, fit: true, control: false,
  };
  globalThis.deskwayViewer = view;

  let core = null;
  let session = null;

  // --- Storage: the device key and the pins (SECURITY.md §4.0, §4.3).

  let dbp = null;
  function db() {
    if (!dbp) {
      dbp = new Promise((resolve, reject) => {
        const r = indexedDB.open("deskway-viewer", 1);
        r.onupgradeneeded = () => {
          r.result.createObjectStore("keys");
          r.result.createObjectStore("pins");
        };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    }
    return dbp;
  }
  async function tx(name, mode, f) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction(name, mode);
      const req = f(t.objectStore(name));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }
  const store = {
    loadKey: async () => (await tx("keys", "readonly", (s) => s.get("viewer"))) || null,
    saveKey: (b) => tx("keys", "readwrite", (s) => s.put(b, "viewer")),
    loadPins: async () => (await tx("pins", "readonly", (s) => s.getAll())) || [],
    savePin: (host, fp) => tx("pins", "readwrite", (s) => s.put([host, fp], host)),
  };

  // --- The core.

  async function loadCore() {
    if (core) return core;
    const url = me.dataset.wasm;
    const opts = { integrity: me.dataset.wasmIntegrity, credentials: "same-origin" };
    const go = new Go();
    let instance;
    try {
      instance = (await WebAssembly.instantiateStreaming(fetch(url, opts), go.importObject)).instance;
    } catch (e) {
      // Served without application/wasm, or a browser without streaming.
      const resp = await fetch(url, opts);
      if (!resp.ok) throw new Error("cannot load the viewer core: " + resp.status);
      instance = (await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject)).instance;
    }
    const ready = new Promise((resolve) => { globalThis.deskwayReady = resolve; });
    go.run(instance).then(() => setState("closed", "The viewer core stopped. Reload the page.", "error"));
    await ready;
    core = globalThis.deskwayCore;
    return core;
  }

  // --- State and status line.

  function setState(st, message, kind) {
    view.state = st;
    view.message = message || "";
    view.kind = kind || "";
    document.body.className = st.replace(/ /g, "-");
    $("st-state").textContent = st;
    const live = st === "open" || st === "waiting for consent" || st === "reconnecting";
    $("toolbar").hidden = !live;
    viewport.hidden = !live;
    $("connect").hidden = live;
    if (st === "reconnecting") $("st-state").textContent = "reconnecting…";
    if (st === "waiting for consent") $("st-state").textContent = "waiting for the host's consent…";
    if (message && !live) showMessage(message, kind);
    if (st === "closed") {
      session = null;
      clearStatus();
      if (kind === "wrong-code" || kind === "code-expired") $("code").focus();
      if (kind === "wrong-password") $("password").focus();
    }
  }

  function showMessage(text, kind) {
    const m = $("message");
    m.textContent = text;
    m.className = kind && kind !== "closed" ? "error" : "";
  }

  function clearStatus() {
    for (const id of ["st-relay", "st-rtt", "st-fps", "st-bw", "st-sas"]) $(id).textContent = "";
  }

  function rate(bps) {
    if (bps >= 1e6) return (bps / 1e6).toFixed(1) + " MB/s";
    return (bps / 1e3).toFixed(1) + " kB/s";
  }

  function showStats(s) {
    view.stats = s;
    view.control = s.control;
    $("st-relay").textContent = s.relay ? "relay " + s.relay : "";
    $("st-rtt").textContent = s.rttMs ? "RTT " + s.rttMs.toFixed(1) + " ms" : "";
    $("st-fps").textContent = s.fps.toFixed(0) + " fps";
    $("st-bw").textContent = "↓ " + rate(s.inBps) + " ↑ " + rate(s.outBps);
    $("st-sas").textContent = s.sas ? "SAS " + s.sas : "";
  }

  // --- Connecting.

  async function connect(target) {
    showMessage("");
    setState("loading");
    $("st-state").textContent = "loading the viewer…";
    try {
      await loadCore();
    } catch (e) {
      setState("closed", "The viewer's code could not be loaded or failed its integrity check: " + e.message, "error");
      return;
    }
    const opts = {
      base: location.origin, screen, cursor, store, on: handlers,
      platform: "browser", viewOnly: view.viewOnly, ...target,
    };
    try {
      session = await core.connect(opts);
      const s = session.stats();
      showStats(s);
      if (s.pin === "new") {
        const f = $("fingerprint");
        f.textContent = "First connection to this host: its key " + s.hostKey + " is now pinned in this browser.";
        f.hidden = false;
      }
      screen.focus();
    } catch (e) {
      // The core reported the state "closed" with the explanation.
      if (view.state !== "closed") setState("closed", e.message, e.kind || "error");
    } finally {
      if (target.password) target.password.fill(0);
    }
  }

  const handlers = {
    state: (st, message, kind) => setState(st, message, kind),
    stats: showStats,
    resize: () => layout(),
    cursor: (c) => {
      view.cursor = c;
      screen.classList.add("remote-cursor");
      cursor.hidden = false;
      placeCursor();
    },
    cursorPos: (x, y, visible) => {
      view.host = { x, y, visible };
      placeCursor();
    },
    clipboard: (text) => {
      view.clipboard = text;
      $("clip-text").value = text;
      $("clip-note").textContent = "Received from the host (" + text.length + " characters).";
      if (navigator.clipboard && document.hasFocus()) navigator.clipboard.writeText(text).catch(() => {});
      $("clip").classList.add("new");
    },
    consent: (c) => {
      const had = view.control;
      view.control = c.control;
      $("cad").disabled = !c.control;
      $("askctl").hidden = !c.view || c.control;
      $("askctl").disabled = false;
      if (!c.view) $("st-state").textContent = "waiting for the host's consent…";
      else if (had && !c.control) $("st-state").textContent = "the host took back control: view only";
    },
    layout: (l) => {
      const sel = $("monitor");
      sel.replaceChildren();
      if (l.monitors.length > 1) {
        const all = new Option("All monitors", "0", false, l.selected === 0);
        sel.add(all);
        for (const m of l.monitors) sel.add(new Option(m.name || "Monitor " + m.id, String(m.id), false, m.id === l.selected));
      }
      sel.hidden = l.monitors.length <= 1;
    },
    hostViewOnly: (on) => { $("st-state").textContent = on ? "the host paused control" : view.state; },
  };

  // --- Scaling and the cursor.

  function layout() {
    viewport.classList.toggle("fit", view.fit);
    $("scale").textContent = view.fit ? "1:1" : "Fit";
    placeCursor();
  }

  function scale() {
    const r = screen.getBoundingClientRect();
    return screen.width ? r.width / screen.width : 1;
  }

  function placeCursor() {
    const c = view.cursor;
    if (!c) return;
    const k = scale();
    cursor.hidden = !view.host.visible && !view.local;
    cursor.style.width = c.width * k + "px";
    cursor.style.height = c.height * k + "px";
    cursor.style.transform = "translate(" + (view.host.x - c.hotX) * k + "px," + (view.host.y - c.hotY) * k + "px)";
  }

  // --- Input.

  function fbPoint(e) {
    const r = screen.getBoundingClientRect();
    const x = Math.floor((e.clientX - r.left) * screen.width / r.width);
    const y = Math.floor((e.clientY - r.top) * screen.height / r.height);
    return [Math.max(0, Math.min(screen.width - 1, x)), Math.max(0, Math.min(screen.height - 1, y))];
  }

  function live() { return session && !view.viewOnly; }

  function pointer(e) {
    if (!session) return;
    const [x, y] = fbPoint(e);
    view.local = true;
    view.host = { x, y, visible: true }; // local echo until the host says otherwise
    placeCursor();
    if (!live()) return;
    if (e.type === "pointerdown") {
      screen.focus();
      screen.setPointerCapture(e.pointerId);
    }
    e.preventDefault();
    session.pointer(x, y, e.buttons);
  }
  for (const t of ["pointermove", "pointerdown", "pointerup"]) screen.addEventListener(t, pointer);
  screen.addEventListener("pointerleave", () => { view.local = false; placeCursor(); });
  screen.addEventListener("contextmenu", (e) => e.preventDefault());
  screen.addEventListener("wheel", (e) => {
    if (!live()) return;
    e.preventDefault();
    session.wheel(e.deltaX, e.deltaY, e.deltaMode);
  }, { passive: false });

  function key(e) {
    if (!live() || e.isComposing) return;
    // Every key goes to the host, including the shortcuts the browser
    // would take (in full screen the keyboard lock gets the rest).
    e.preventDefault();
    session.key(e);
  }
  screen.addEventListener("keydown", key);
  screen.addEventListener("keyup", key);
  screen.addEventListener("blur", () => { if (session) session.releaseAll(); });
  screen.addEventListener("paste", (e) => {
    if (!live()) return;
    e.preventDefault();
    session.clipboard(e.clipboardData.getData("text/plain"));
  });

  // --- Toolbar.

  $("cad").addEventListener("click", () => { if (live()) session.ctrlAltDel(); screen.focus(); });
  $("askctl").addEventListener("click", () => {
    if (!session) return;
    session.askControl();
    $("askctl").disabled = true; // until the host answers
    $("st-state").textContent = "asked the host for control…";
    screen.focus();
  });
  $("viewonly").addEventListener("click", () => {
    view.viewOnly = !view.viewOnly;
    $("viewonly").setAttribute("aria-pressed", String(view.viewOnly));
    if (session) session.viewOnly(view.viewOnly);
    screen.focus();
  });
  $("scale").addEventListener("click", () => { view.fit = !view.fit; layout(); screen.focus(); });
  $("fullscreen").addEventListener("click", async () => {
    if (document.fullscreenElement) {
      await document.exitFullscreen();
      return;
    }
    await viewport.requestFullscreen();
    if (navigator.keyboard && navigator.keyboard.lock) navigator.keyboard.lock().catch(() => {});
    screen.focus();
  });
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement && navigator.keyboard && navigator.keyboard.unlock) navigator.keyboard.unlock();
    layout();
  });
  $("clip").addEventListener("click", () => { $("clip").classList.remove("new"); $("clipboard-dialog").showModal(); });
  $("clip-send").addEventListener("click", () => {
    const r = session && session.clipboard($("clip-text").value);
    $("clip-note").textContent = r ? "Not sent: the host has not allowed clipboard access." : "Sent to the host's clipboard.";
  });
  $("clip-type").addEventListener("click", () => {
    const r = live() && session.text($("clip-text").value);
    $("clip-note").textContent = r ? "Not typed: no control." : "Typed on the host.";
  });
  $("clip-copy").addEventListener("click", () => {
    if (navigator.clipboard) navigator.clipboard.writeText($("clip-text").value).then(
      () => { $("clip-note").textContent = "Copied to this computer's clipboard."; },
      () => { $("clip-note").textContent = "The browser did not allow copying; select the text and copy it."; });
  });
  $("monitor").addEventListener("change", () => { if (session) session.monitor(Number($("monitor").value)); });
  $("disconnect").addEventListener("click", () => { if (session) session.close(); });
  window.addEventListener("resize", layout);
  window.addEventListener("beforeunload", () => { if (session) session.close(); });

  // --- Entry: a support code (typed here or in the console, which puts
  // it in the URL fragment: never sent to a server), or a host from the
  // console's list (?host=ID), whose password is asked here.

  $("code-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const code = $("code").value;
    $("code").value = "";
    connect({ code });
  });
  $("password-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const password = new TextEncoder().encode($("password").value);
    $("password").value = "";
    connect({ hostId: new URLSearchParams(location.search).get("host"), password });
  });

  const params = new URLSearchParams(location.search);
  const host = params.get("host");
  if (host) {
    $("code-form").hidden = true;
    $("password-form").hidden = false;
    $("host-name").textContent = params.get("name") || host;
    fetch("/api/v1/hosts/" + encodeURIComponent(host), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((h) => { if (h && h.name) $("host-name").textContent = h.name; })
      .catch(() => {});
    $("password").focus();
  } else {
    const m = /(?:^#|&)code=([0-9 -]+)/.exec(location.hash);
    if (m) {
      history.replaceState(null, "", location.pathname + location.search); // out of the history
      connect({ code: m[1] });
    } else {
      $("code").focus();
    }
  }
})();
