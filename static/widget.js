/* Okno website chat: what one <script src=".../widget/<uid>/widget.js" async> tag on the salon's site runs.
 *
 * No dependencies. Draws a launcher and a small chat window inside a Shadow DOM (the host page's CSS
 * can't reach in, ours can't leak out), talks only to its own Okno endpoints, keeps the signed
 * visitor token in localStorage (a returning visitor sees their history), and listens on the
 * visitor's own event stream for staff replies and "typing". Text from the server is only ever
 * set as textContent. Hooks for tests: data-testid="okno-...".
 */
(function () {
  "use strict";
  var BOOT = {/*OKNO_BOOT*/};
  if (!BOOT.uid || !BOOT.api || window["__oknoWidget_" + BOOT.uid]) return;
  window["__oknoWidget_" + BOOT.uid] = true;

  var API = BOOT.api;
  var KEY = "okno-widget:" + BOOT.uid;
  var TYPING_MS = 5000;

  var cfg = null; // what /config said: title, colour, greeting, what to ask, texts
  var S = {}; // the texts
  var state = readState(); // {token, introduced}
  var ui = {};
  var byId = {}; // message id -> element
  var byClient = {}; // client id -> element (own messages, before and after the server stored them)
  var cursor = 0; // the newest message id fetched from the history
  var maxOut = 0; // the newest staff reply shown
  var readUpTo = 0; // the newest staff reply reported read
  var unread = 0;
  var isOpen = false;
  var source = null;
  var typingTimer = null;
  var fetching = false;
  var fetchAgain = false;

  // ---- storage -------------------------------------------------------------------------------

  function readState() {
    try {
      return JSON.parse(window.localStorage.getItem(KEY) || "{}") || {};
    } catch (e) {
      return {}; // storage blocked (private mode, sandboxed frame): this page view only
    }
  }

  function saveState() {
    try {
      window.localStorage.setItem(KEY, JSON.stringify(state));
    } catch (e) {
      /* kept in memory */
    }
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---- talking to Okno ---------------------------------------------------------------------------

  function call(method, path, body, isForm) {
    var headers = {};
    if (state.token) headers.Authorization = "Bearer " + state.token;
    var options = { method: method, headers: headers, mode: "cors", credentials: "omit" };
    if (body && isForm) options.body = body;
    else if (body) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(API + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.error || S.error);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function startSession(name, phone) {
    return call("POST", "session", { name: name || "", phone: phone || "" }).then(function (data) {
      state.token = data.token;
      state.introduced = true;
      saveState();
      connect();
      return data;
    });
  }

  function ensureSession() {
    if (state.token) return Promise.resolve();
    if (cfg.contact_required) return Promise.reject(new Error(S.intro_required));
    return startSession("", "");
  }

  function forgetToken() {
    state.token = null;
    state.introduced = false;
    saveState();
    if (source) source.close();
    source = null;
    cursor = 0;
  }

  function fetchNew() {
    if (!state.token) return;
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    call("GET", "messages" + (cursor ? "?after=" + cursor : ""))
      .then(function (data) {
        if (data.token) {
          state.token = data.token;
          saveState();
        }
        var initial = cursor === 0;
        data.messages.forEach(function (m) {
          cursor = Math.max(cursor, m.id);
          merge(m, initial);
        });
        showError("");
      })
      .catch(function (error) {
        if (error.status === 403) forgetToken();
        else if (!error.status) showError(S.offline);
      })
      .then(function () {
        fetching = false;
        if (fetchAgain) {
          fetchAgain = false;
          fetchNew();
        }
      });
  }

  function connect() {
    if (source || !state.token || !window.EventSource) return;
    source = new EventSource(API + "stream?token=" + encodeURIComponent(state.token));
    source.addEventListener("resync", fetchNew);
    source.addEventListener("message.created", function () {
      hideTyping();
      fetchNew();
    });
    source.addEventListener("typing", function (event) {
      var data = {};
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        /* nothing to show but "typing" */
      }
      showTyping(data.name);
    });
    source.onerror = function () {
      // the browser reconnects by itself; a refused stream (403: the token is no longer valid) is closed
      if (source && source.readyState === 2) {
        source = null;
        fetchNew(); // a 403 there forgets the token; otherwise try the stream again a little later
        window.setTimeout(connect, 5000);
      }
    };
  }

  function reportRead() {
    if (!isOpen || document.hidden || !state.token || maxOut <= readUpTo) return;
    var upTo = maxOut;
    readUpTo = upTo;
    call("POST", "read", { up_to: upTo }).catch(function () {
      readUpTo = 0; // try again next time
    });
  }

  // ---- drawing -----------------------------------------------------------------------------------

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === false || value === null || value === undefined) return;
      if (name === "text") node.textContent = value;
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }

  function svg(path) {
    var ns = "http://www.w3.org/2000/svg";
    var icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    icon.appendChild(p);
    return icon;
  }

  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  var ICON_CLOSE = "M6 6l12 12M18 6L6 18";
  var ICON_SEND = "M3 20l18-8L3 4v6l12 2-12 2z";
  var ICON_CLIP = "M16.5 6.5l-8 8a2.5 2.5 0 0 0 3.5 3.5l8.5-8.5a4.5 4.5 0 0 0-6.4-6.4L5.5 11.7a6.5 6.5 0 0 0 9.2 9.2L20 15.5";

  function css(color) {
    return (
      ":host{all:initial}" +
      "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}" +
      ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:58px;height:58px;border-radius:50%;border:0;" +
      "background:" + color + ";color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}" +
      ".launcher svg{width:28px;height:28px;fill:none;stroke:#fff;stroke-width:2;stroke-linejoin:round}" +
      ".badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;" +
      "color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center}" +
      ".panel{position:fixed;right:20px;bottom:90px;z-index:2147483000;width:360px;max-width:calc(100vw - 24px);height:520px;" +
      "max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;color:#1f2937;border-radius:16px;" +
      "overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.28);font-size:14px;line-height:1.4}" +
      "[hidden]{display:none!important}" +
      "header{background:" + color + ";color:#fff;padding:14px 16px;display:flex;align-items:center;gap:8px}" +
      ".title{font-weight:700;font-size:16px;flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}" +
      ".close{background:transparent;border:0;color:#fff;cursor:pointer;padding:4px;display:flex}" +
      ".close svg{width:20px;height:20px;stroke:#fff;stroke-width:2.2;fill:none}" +
      ".log{flex:1;overflow-y:auto;padding:14px 12px;background:#f6f7f9;display:flex;flex-direction:column;gap:8px}" +
      ".msg{display:flex;flex-direction:column;max-width:82%}" +
      ".msg.in{align-self:flex-end;align-items:flex-end}.msg.out{align-self:flex-start;align-items:flex-start}" +
      ".bubble{padding:8px 12px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}" +
      ".in .bubble{background:" + color + ";color:#fff;border-bottom-right-radius:4px}" +
      ".out .bubble{background:#fff;color:#1f2937;border:1px solid #e5e7eb;border-bottom-left-radius:4px}" +
      ".msg.failed .bubble{opacity:.6}" +
      ".bubble.media{padding:0;background:transparent!important;border:0!important}" +
      ".meta{font-size:11px;color:#6b7280;margin-top:2px;display:flex;gap:6px}" +
      ".failed .meta{color:#b91c1c;cursor:pointer}.refused .meta{cursor:default}" +
      ".bubble img{display:block;max-width:220px;max-height:220px;border-radius:8px;margin:2px 0}" +
      ".file{display:inline-flex;gap:6px;align-items:center;color:inherit;text-decoration:underline}" +
      ".intro{padding:14px 16px;border-top:1px solid #e5e7eb;background:#fff;display:flex;flex-direction:column;gap:8px}" +
      ".intro p{margin:0;color:#374151}" +
      "input,textarea{font:inherit;color:#1f2937;background:#fff;border:1px solid #d1d5db;border-radius:10px;padding:8px 10px;width:100%}" +
      "input:focus,textarea:focus{outline:2px solid " + color + ";outline-offset:-1px;border-color:transparent}" +
      ".row{display:flex;gap:8px}" +
      ".primary{background:" + color + ";color:#fff;border:0;border-radius:10px;padding:9px 14px;font:inherit;font-weight:600;cursor:pointer;flex:1}" +
      ".secondary{background:#f3f4f6;color:#374151;border:0;border-radius:10px;padding:9px 14px;font:inherit;cursor:pointer}" +
      ".typing{padding:4px 16px;font-size:12px;color:#6b7280;font-style:italic;background:#f6f7f9}" +
      ".error{margin:0;padding:6px 16px;font-size:12px;color:#b91c1c;background:#fef2f2}" +
      ".composer{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #e5e7eb;background:#fff}" +
      ".composer textarea{resize:none;max-height:120px;min-height:38px}" +
      ".icon{background:transparent;border:0;cursor:pointer;color:#6b7280;padding:8px;display:flex;border-radius:8px}" +
      ".icon svg{width:22px;height:22px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}" +
      ".send{color:" + color + "}.send svg{fill:currentColor;stroke:none}" +
      ".icon:hover{background:#f3f4f6}" +
      "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}}"
    );
  }

  function build() {
    // a tag of our own, reset inline: the page's "div {...}" or "* {... !important}" rules can't reach it
    var host = h("okno-widget", { id: "okno-widget", "data-testid": "okno-widget", style: "all:initial!important" });
    var shadow = host.attachShadow({ mode: "open" });
    shadow.appendChild(h("style", { text: css(cfg.color) }));

    ui.badge = h("span", { class: "badge", "data-testid": "okno-unread", hidden: true });
    ui.launcher = h(
      "button",
      { type: "button", class: "launcher", "data-testid": "okno-launcher", "aria-label": S.open, "aria-expanded": "false", onclick: toggle },
      [svg(ICON_CHAT), ui.badge]
    );

    ui.log = h("div", { class: "log", "data-testid": "okno-messages", role: "log", "aria-live": "polite" }, [
      h("div", { class: "msg out", "data-testid": "okno-greeting" }, [h("div", { class: "bubble", text: cfg.greeting })]),
    ]);

    ui.name = h("input", { name: "name", "data-testid": "okno-name", placeholder: S.name, autocomplete: "name", maxlength: "100", "aria-label": S.name });
    ui.phone = h("input", { name: "phone", type: "tel", "data-testid": "okno-phone", placeholder: S.phone, autocomplete: "tel", maxlength: "30", "aria-label": S.phone });
    ui.introError = h("p", { class: "error", "data-testid": "okno-intro-error", role: "alert", hidden: true });
    ui.intro = h("form", { class: "intro", "data-testid": "okno-intro", hidden: true, onsubmit: introduce }, [
      h("p", { text: cfg.contact_required ? S.intro_required : S.intro }),
      cfg.ask_name ? ui.name : null,
      cfg.ask_phone ? ui.phone : null,
      ui.introError,
      h("div", { class: "row" }, [
        h("button", { type: "submit", class: "primary", "data-testid": "okno-start", text: S.start }),
        cfg.contact_required ? null : h("button", { type: "button", class: "secondary", "data-testid": "okno-skip", text: S.skip, onclick: skip }),
      ]),
    ]);

    ui.typing = h("div", { class: "typing", "data-testid": "okno-typing", "aria-live": "polite", hidden: true });
    ui.error = h("p", { class: "error", "data-testid": "okno-error", role: "alert", hidden: true });

    ui.input = h("textarea", { "data-testid": "okno-input", rows: "1", placeholder: S.placeholder, "aria-label": S.placeholder, maxlength: "4000", onkeydown: onKey, oninput: grow });
    ui.file = h("input", { type: "file", "data-testid": "okno-file", accept: cfg.accept, hidden: true, onchange: onFile });
    ui.composer = h("form", { class: "composer", "data-testid": "okno-composer", onsubmit: onSubmit }, [
      h("button", { type: "button", class: "icon", "data-testid": "okno-attach", title: S.attach, "aria-label": S.attach, onclick: function () { ui.file.click(); } }, [svg(ICON_CLIP)]),
      ui.file,
      ui.input,
      h("button", { type: "submit", class: "icon send", "data-testid": "okno-send", title: S.send, "aria-label": S.send }, [svg(ICON_SEND)]),
    ]);

    ui.panel = h("section", { class: "panel", "data-testid": "okno-panel", role: "dialog", "aria-label": cfg.title, hidden: true, onkeydown: onPanelKey }, [
      h("header", {}, [
        h("div", { class: "title", "data-testid": "okno-title", text: cfg.title }),
        h("button", { type: "button", class: "close", "data-testid": "okno-close", title: S.close, "aria-label": S.close, onclick: toggle }, [svg(ICON_CLOSE)]),
      ]),
      ui.log,
      ui.typing,
      ui.intro,
      ui.error,
      ui.composer,
    ]);

    shadow.appendChild(ui.launcher);
    shadow.appendChild(ui.panel);
    document.body.appendChild(host);
    document.addEventListener("visibilitychange", reportRead);
  }

  function formatSize(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(bytes % 1048576 ? 1 : 0) + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function formatTime(iso) {
    var date = iso ? new Date(iso) : new Date();
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function stateLabel(message) {
    if (message.direction !== "in") return "";
    if (message.state === "failed" && message.refused) return "! " + message.error;
    return { sending: "… " + S.sending, sent: "✓", failed: "! " + S.failed }[message.state] || "";
  }

  function draw(message) {
    var onlyImages = !message.text && (message.attachments || []).length > 0 &&
      message.attachments.every(function (a) { return a.url && a.is_image; });
    var bubble = h("div", { class: onlyImages ? "bubble media" : "bubble" });
    if (message.text) bubble.appendChild(h("div", { class: "text", text: message.text }));
    (message.attachments || []).forEach(function (a) {
      if (!a.url) {
        bubble.appendChild(h("div", { class: "file", text: "📎 " + a.filename + " · " + formatSize(a.size) }));
      } else if (a.is_image) {
        bubble.appendChild(
          h("a", { href: a.url, target: "_blank", rel: "noopener", "data-testid": "okno-attachment" }, [
            h("img", { src: a.url, alt: a.filename, loading: "lazy" }),
          ])
        );
      } else {
        bubble.appendChild(
          h("a", { class: "file", href: a.url, target: "_blank", rel: "noopener", "data-testid": "okno-attachment", text: "📎 " + a.filename + " · " + formatSize(a.size) })
        );
      }
    });
    var meta = h("div", { class: "meta" }, [
      message.direction === "out" && message.author ? h("span", { class: "author", text: message.author }) : null,
      h("time", { datetime: message.created_at || "", text: formatTime(message.created_at) }),
      message.direction === "in" ? h("span", { class: "state", "data-testid": "okno-state", text: stateLabel(message) }) : null,
    ]);
    var node = h(
      "div",
      {
        class: "msg " + message.direction + (message.state === "failed" ? " failed" : "") + (message.refused ? " refused" : ""),
        "data-testid": "okno-message",
        "data-direction": message.direction,
        "data-state": message.state || "",
        "data-id": message.id || null,
        "data-client-id": message.client_id || null,
        title: message.state === "failed" && message.error ? message.error : null,
      },
      [bubble, meta]
    );
    if (message.state === "failed" && !message.refused) {
      node.addEventListener("click", function () { retry(message.client_id); });
    }
    return node;
  }

  function place(node, old) {
    var atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
    if (old) ui.log.replaceChild(node, old);
    else ui.log.appendChild(node);
    if (atBottom || !old) ui.log.scrollTop = ui.log.scrollHeight;
  }

  /* A message from the server (history, stream, or the answer to a post): shown once, in place. */
  function merge(message, fromHistory) {
    var old = byId[message.id] || (message.client_id && byClient[message.client_id]);
    var node = draw(message);
    place(node, old);
    byId[message.id] = node;
    if (message.client_id) {
      byClient[message.client_id] = node;
      delete pending[message.client_id];
    }
    if (message.direction === "out" && message.id > maxOut) {
      maxOut = message.id;
      if (!old && (!isOpen || document.hidden) && (!fromHistory || message.state !== "read")) setUnread(unread + 1);
      if (!old) hideTyping();
      reportRead();
    }
  }

  // ---- the visitor's own messages ------------------------------------------------------------

  var pending = {}; // client id -> {message, post}: what is being sent, or failed and may be retried

  function send(message, post) {
    pending[message.client_id] = { message: message, post: post };
    message.state = "sending";
    var old = byClient[message.client_id];
    var node = draw(message);
    place(node, old);
    byClient[message.client_id] = node;
    ensureSession()
      .then(post)
      .then(function (data) {
        merge(data.message);
        showError("");
      })
      .catch(function (error) {
        if (error.status === 403 && !message.renewed) {
          message.renewed = true; // the token went stale (a new server, a new key): a new session
          forgetToken();
          return send(message, post);
        }
        message.state = "failed";
        message.error = error.message;
        // refused for what it is (a wrong or too large file, bad input): sending it again won't help
        message.refused = [400, 413, 415].indexOf(error.status) >= 0;
        var failed = draw(message);
        place(failed, byClient[message.client_id]);
        byClient[message.client_id] = failed;
        if (!message.refused) showError(error.message || S.error); // a refusal says why next to the message
      });
  }

  function retry(clientId) {
    var item = pending[clientId];
    if (item) send(item.message, item.post); // the same client id: stored once whatever happened before
  }

  function sendText(text) {
    var clientId = newId();
    send({ client_id: clientId, direction: "in", text: text, created_at: new Date().toISOString(), attachments: [] }, function () {
      return call("POST", "messages", { text: text, client_id: clientId });
    });
  }

  function sendFile(file) {
    if (file.size > cfg.max_upload_bytes) {
      showError(S.too_large.replace("{limit}", formatSize(cfg.max_upload_bytes)));
      return;
    }
    var clientId = newId();
    send(
      { client_id: clientId, direction: "in", text: "", created_at: new Date().toISOString(), attachments: [{ filename: file.name, size: file.size }] },
      function () {
        var form = new FormData();
        form.append("file", file);
        form.append("client_id", clientId);
        return call("POST", "attachments", form, true);
      }
    );
  }

  // ---- controls ------------------------------------------------------------------------------

  function needsIntro() {
    return !state.token && !state.introduced && (cfg.ask_name || cfg.ask_phone);
  }

  function toggle() {
    isOpen = !isOpen;
    ui.panel.hidden = !isOpen;
    ui.launcher.setAttribute("aria-expanded", isOpen ? "true" : "false");
    if (!isOpen) {
      ui.launcher.focus();
      return;
    }
    setUnread(0);
    ui.intro.hidden = !needsIntro();
    ui.composer.hidden = needsIntro() && cfg.contact_required;
    ui.log.scrollTop = ui.log.scrollHeight;
    var first = !ui.intro.hidden ? (cfg.ask_name ? ui.name : ui.phone) : ui.input;
    first.focus();
    reportRead();
  }

  function onPanelKey(event) {
    if (event.key === "Escape") toggle();
  }

  function setUnread(count) {
    unread = count;
    ui.badge.hidden = count === 0;
    ui.badge.textContent = count > 9 ? "9+" : String(count);
  }

  function introduced() {
    ui.intro.hidden = true;
    ui.composer.hidden = false;
    ui.input.focus();
  }

  function introduce(event) {
    event.preventDefault();
    ui.introError.hidden = true;
    startSession(ui.name.value, ui.phone.value)
      .then(introduced)
      .catch(function (error) {
        ui.introError.textContent = error.message || S.error;
        ui.introError.hidden = false;
      });
  }

  function skip() {
    state.introduced = true; // a session starts with the first message
    saveState();
    introduced();
  }

  function onSubmit(event) {
    event.preventDefault();
    var text = ui.input.value.trim();
    if (!text) return;
    if (!ui.intro.hidden && !cfg.contact_required) skip();
    ui.input.value = "";
    grow();
    sendText(text);
  }

  function onKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) onSubmit(event);
  }

  function grow() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 120) + "px";
  }

  function onFile() {
    var file = ui.file.files && ui.file.files[0];
    ui.file.value = "";
    if (!file) return;
    if (!ui.intro.hidden && !cfg.contact_required) skip();
    sendFile(file);
  }

  function showTyping(name) {
    ui.typing.textContent = name ? S.typing.replace("{name}", name) : S.typing_anon;
    ui.typing.hidden = false;
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(hideTyping, TYPING_MS);
  }

  function hideTyping() {
    window.clearTimeout(typingTimer);
    if (ui.typing) ui.typing.hidden = true;
  }

  function showError(text) {
    if (!ui.error) return;
    var atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
    ui.error.textContent = text || "";
    ui.error.hidden = !text;
    if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
  }

  // ---- start -----------------------------------------------------------------------------------

  function start() {
    var lang = (document.documentElement.getAttribute("lang") || navigator.language || "").slice(0, 2);
    fetch(API + "config?lang=" + encodeURIComponent(lang), { mode: "cors", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("Okno widget: " + response.status);
        return response.json();
      })
      .then(function (config) {
        cfg = config;
        S = config.strings;
        build();
        if (state.token) {
          fetchNew();
          connect();
        }
      })
      .catch(function (error) {
        if (window.console) window.console.warn("Okno widget is not available here:", error.message);
      });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
