/* Okno: the little the inbox needs beyond htmx. No framework, no build step.

   Live updates use a plain EventSource, not the htmx SSE extension: our events are small JSON
   notes naming what changed ({id}, {conversation_id, message_id, ...}), not HTML to swap. The
   page decides what to fetch from them (only the regions it shows, by id), coalesces bursts
   into one request per region, plays the sound and shows "typing"; the extension's model (an
   element per event that swaps the event's data, or re-requests on each event) can do none of
   that without a hidden element per region and no coalescing. The fetched fragments are the
   same partial templates as the full page, placed with htmx.swap (out-of-band swaps). */
(function () {
  "use strict";

  var COLLAPSED_KEY = "okno.listCollapsed";
  var DRAFT_KEY = "okno.draft.";
  var BEEP_KEY = "okno.beep";
  var COALESCE_MS = 100; // one fetch per region per burst of events
  var TYPING_EVERY_MS = 2000; // how often this tab says "typing" while the user types
  var TYPING_SHOWN_MS = 5000; // how long a colleague's "typing" stays without news
  var NEAR_BOTTOM_PX = 120;

  function byId(id) {
    return document.getElementById(id);
  }

  function openDialog() {
    var dialog = byId("dialog");
    return dialog && dialog.hasAttribute("data-conversation-id") ? dialog : null;
  }

  function openConversationId() {
    var dialog = openDialog();
    return dialog ? dialog.getAttribute("data-conversation-id") : null;
  }

  function myUserId() {
    return document.body.getAttribute("data-user-id");
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function storage(kind) {
    try {
      return window[kind];
    } catch (e) {
      return null; /* storage switched off: drafts and choices last for this page only */
    }
  }

  /* A field that takes typed text: single-key shortcuts wait while one has the focus. */
  function isTypingTarget(elt) {
    if (!elt || !elt.tagName) return false;
    if (elt.isContentEditable) return true;
    if (elt.tagName === "TEXTAREA" || elt.tagName === "SELECT") return true;
    if (elt.tagName !== "INPUT") return false;
    return ["checkbox", "radio", "button", "submit", "reset", "file", "range", "color"].indexOf(elt.type) === -1;
  }

  /* ---- the dialog's scroll ---------------------------------------------------------------- */

  function scrollDialogToBottom() {
    var messages = byId("messages");
    if (messages) messages.scrollTop = messages.scrollHeight;
  }

  function dialogNearBottom() {
    var box = byId("messages");
    return !box || box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
  }

  function lastMessageId() {
    var shown = document.querySelectorAll("#messages > .msg[id^='message-']");
    return shown.length ? shown[shown.length - 1].id.replace("message-", "") : "";
  }

  function firstMessageId() {
    var first = document.querySelector("#messages > .msg[id^='message-']");
    return first ? first.id.replace("message-", "") : "";
  }

  /* ---- the list --------------------------------------------------------------------------- */

  /* Highlight the list row of the open dialog (the row may come before or after it). */
  function markSelectedRow() {
    var id = openConversationId();
    document.querySelectorAll("#list-rows .row").forEach(function (row) {
      var selected = id !== null && row.getAttribute("data-conversation-id") === id;
      row.classList.toggle("selected", selected);
      var link = row.querySelector(".row-link");
      if (!link) return;
      if (selected) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
  }

  function rowKey(row) {
    return [Number(row.getAttribute("data-activity")) || 0, Number(row.getAttribute("data-conversation-id")) || 0];
  }

  /* Negative when `a` goes above `b`: newest activity first, the higher id first on a tie. */
  function compareRows(a, b) {
    return b[0] - a[0] || b[1] - a[1];
  }

  /* Put a row where the list's sort says, replacing its old self. A row that sorts below the
     last one loaded while more pages remain is left for the "More" button to bring. */
  function placeRow(row) {
    var list = byId("list-rows");
    var old = byId(row.id);
    if (!list) return;
    var key = rowKey(row);
    var before = null;
    var rows = list.querySelectorAll(":scope > li.row");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i] === old) continue;
      if (compareRows(key, rowKey(rows[i])) < 0) {
        before = rows[i];
        break;
      }
    }
    var more = list.querySelector(":scope > .more-rows");
    if (!before && more && !old) return;
    if (old && old.parentNode === list) {
      /* keep the keyboard focus on a row link that is being replaced */
      var hadFocus = old.contains(document.activeElement);
      old.remove();
      list.insertBefore(row, before || more);
      if (hadFocus) {
        var link = row.querySelector(".row-link");
        if (link) link.focus({ preventScroll: true });
      }
    } else {
      list.insertBefore(row, before || more);
    }
    if (window.htmx) htmx.process(row);
  }

  /* List rows in an answer ([data-list-row]) are placed here, not by htmx: replaced and moved
     to where the sort puts them, added when the list now includes them, removed when it no
     longer does. */
  function takeListRows(content) {
    var found = false;
    content.querySelectorAll("[data-list-row]").forEach(function (elt) {
      found = true;
      elt.remove();
      if (elt.getAttribute("hx-swap-oob") === "delete") {
        var gone = byId(elt.id);
        if (gone && gone.classList.contains("row")) gone.remove();
        return;
      }
      elt.removeAttribute("hx-swap-oob");
      elt.removeAttribute("data-list-row");
      placeRow(document.importNode(elt, true));
    });
    if (found) markSelectedRow();
  }

  /* ---- what an answer about the open dialog brings ([data-dialog-part]) ------------------ */

  var afterSwap = { scroll: false, typingDone: [], cardScroll: null };

  /* A region is left as it is while someone works in it: typing, a menu open, or a request of
     its own in flight (its answer is swapped relative to the element that sent it). */
  function regionBusy(region) {
    return (
      region.contains(document.activeElement) ||
      !!region.querySelector("details[open], .htmx-request") ||
      region.getAttribute("data-dirty") === "1"
    );
  }

  /* A tail (GET /c/<id>/tail, the composer's answer, a retry) is for the dialog open now only;
     new messages are appended once, whichever answer brought them first (a second copy in
     another state, data-rev, is read again: the composer's answer may arrive after a live tail
     that saw the message delivered, or before); changed ones replace their shown selves (they were read after the change); the header waits while its menu is open; the
     composer is swapped only when its state changed (never under a draft); the card only when
     nobody is typing in it. */
  function takeDialogParts(content, sent) {
    var openId = openConversationId();
    var top = content;
    content.querySelectorAll("[data-dialog-part]").forEach(function (part) {
      if (part.parentNode !== top) return;
      if (part.getAttribute("data-dialog-part") !== openId) {
        part.remove();
        return;
      }
      if (part.hasAttribute("data-messages-tail") || part.hasAttribute("data-changed-messages")) {
        var appending = part.hasAttribute("data-messages-tail");
        Array.prototype.slice.call(part.children).forEach(function (child) {
          var shown = child.id ? byId(child.id) : null;
          if (shown && !appending) {
            child.setAttribute("hx-swap-oob", "true");
            top.appendChild(child);
          } else if (shown || !appending) {
            /* two answers saw it in different states: which is newer is unknown, so ask again */
            if (shown && shown.getAttribute("data-rev") !== child.getAttribute("data-rev")) {
              wantTail({ changed: child.id.replace("message-", "") });
            }
            child.remove();
          } else if (child.classList.contains("msg")) {
            afterSwap.typingDone.push(child.getAttribute("data-author-id"));
          }
        });
        if (!appending || !part.children.length) {
          part.remove();
        } else {
          afterSwap.scroll = afterSwap.scroll || sent || dialogNearBottom();
          var empty = document.querySelector("#messages > .no-messages");
          if (empty) empty.remove();
        }
      } else if (part.id === "composer") {
        var composer = byId("composer");
        if (
          composer &&
          (composer.getAttribute("data-composer-state") === part.getAttribute("data-composer-state") ||
            composer.querySelector(".htmx-request"))
        ) {
          part.remove();
        }
      } else if (part.id === "dialog-head") {
        var head = byId("dialog-head");
        if (head && regionBusy(head)) part.remove();
      } else if (part.id === "card") {
        var card = byId("card");
        if (card && regionBusy(card)) part.remove();
        else if (card) afterSwap.cardScroll = card.scrollTop;
      }
    });
  }

  function finishSwap() {
    if (afterSwap.scroll) scrollDialogToBottom();
    afterSwap.typingDone.forEach(hideTyping);
    if (afterSwap.cardScroll !== null) {
      var card = byId("card");
      if (card) card.scrollTop = afterSwap.cardScroll;
    }
    afterSwap = { scroll: false, typingDone: [], cardScroll: null };
  }

  /* Rewrite an answer before htmx swaps it (see takeListRows and takeDialogParts). */
  function prepare(html, sent) {
    if (typeof html !== "string") return html;
    var hasRows = html.indexOf("data-list-row") !== -1;
    var hasParts = html.indexOf("data-messages-tail") !== -1 || html.indexOf("data-changed-messages") !== -1;
    if (!hasRows && !hasParts) return html;
    var template = document.createElement("template");
    template.innerHTML = html;
    if (hasRows) takeListRows(template.content);
    if (hasParts) takeDialogParts(template.content, sent);
    return template.innerHTML;
  }

  function beforeSwap(event) {
    var elt = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
    var sent = !!(elt && elt.id === "composer-form");
    event.detail.serverResponse = prepare(event.detail.serverResponse, sent);
  }

  /* ---- live: one event stream per tab --------------------------------------------------- */

  var live = {
    source: null,
    reconnectTimer: null,
    backoff: 1000,
    timer: null,
    rows: {},
    list: false,
    counts: false,
    tail: null,
    busy: {},
  };

  function schedule() {
    if (!live.timer) live.timer = setTimeout(flush, COALESCE_MS);
  }

  function wantRow(id) {
    live.rows[id] = true;
    schedule();
  }

  function wantTail(options) {
    var tail = live.tail || { changed: {}, card: false, since: false };
    if (options.changed) tail.changed[options.changed] = true;
    tail.card = tail.card || !!options.card;
    tail.since = tail.since || !!options.since;
    live.tail = tail;
    schedule();
  }

  function fetchFragment(url, extraHeaders) {
    var headers = { "HX-Request": "true", "HX-Current-URL": window.location.href, "X-Okno-Live": "1" };
    Object.keys(extraHeaders || {}).forEach(function (name) {
      headers[name] = extraHeaders[name];
    });
    return fetch(url, { headers: headers, credentials: "same-origin" }).then(function (response) {
      if (response.status === 401) {
        window.location.reload(); /* logged out meanwhile: the login page */
        throw new Error("logged out");
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    });
  }

  /* One request per key at a time: a burst during it brings one more request afterwards. */
  function run(key, start) {
    if (live.busy[key]) return false;
    live.busy[key] = true;
    start()
      .catch(function () {
        /* the next event or the next resync brings the region up to date */
      })
      .then(function () {
        live.busy[key] = false;
        if (live.list || live.counts || live.tail || Object.keys(live.rows).length) schedule();
      });
    return true;
  }

  function swapOutOfBand(html) {
    htmx.swap(document.body, prepare(html, false), { swapStyle: "none" });
    finishSwap();
  }

  function flush() {
    live.timer = null;
    if (!window.htmx) return;
    var body = document.body;
    if (live.list) {
      var form = byId("list-filters");
      /* a filter being changed brings its own list */
      if (!byId("list-results") || (form && form.classList.contains("htmx-request"))) {
        live.list = false;
      } else if (run("list", refreshList)) {
        live.list = false;
        live.rows = {};
      }
    }
    if (!live.list && !live.busy.list) {
      Object.keys(live.rows).forEach(function (id) {
        var url = body.getAttribute("data-row-url").replace("{id}", id);
        if (byId("list-rows") && run("row-" + id, function () { return fetchFragment(url).then(swapOutOfBand); })) {
          delete live.rows[id];
        } else if (!byId("list-rows")) {
          delete live.rows[id];
        }
      });
    }
    if (live.tail) {
      var dialog = openDialog();
      if (!dialog) live.tail = null; /* closed meanwhile: a dialog opened later comes whole */
      if (dialog) {
        var tail = live.tail;
        var params = new URLSearchParams();
        params.set("after", lastMessageId());
        var changed = Object.keys(tail.changed).filter(function (id) { return byId("message-" + id); });
        if (tail.since) params.set("since", firstMessageId());
        else if (changed.length) params.set("changed", changed.join(","));
        if (tail.card) params.set("card", "1");
        var url = dialog.getAttribute("data-tail-url") + "?" + params.toString();
        if (run("tail", function () { return fetchFragment(url).then(swapOutOfBand); })) live.tail = null;
      }
    }
    if (live.counts && body.getAttribute("data-counts-url")) {
      if (run("counts", function () { return fetchFragment(body.getAttribute("data-counts-url")).then(swapOutOfBand); })) {
        live.counts = false;
      }
    }
  }

  function sameRow(a, b) {
    var mainA = a.querySelector(".row-main");
    var mainB = b.querySelector(".row-main");
    return (
      a.getAttribute("data-activity") === b.getAttribute("data-activity") &&
      a.getAttribute("data-state") === b.getAttribute("data-state") &&
      !!mainA && !!mainB && mainA.innerHTML === mainB.innerHTML
    );
  }

  /* The list as the page's filters show it (a reconnect may have missed rows), merged into the
     shown one: rows that changed are replaced and moved, new ones placed, gone ones removed,
     the others left alone (a row being clicked is not pulled from under the pointer, the
     reader's scroll stays). The page URL stays as it is. */
  function refreshList() {
    var url = document.body.getAttribute("data-list-url") + window.location.search;
    return fetchFragment(url).then(function (html) {
      var list = byId("list-rows");
      if (!list) return;
      var template = document.createElement("template");
      template.innerHTML = html;
      var freshList = template.content.querySelector("#list-rows");
      var fresh = freshList ? Array.prototype.slice.call(freshList.querySelectorAll(":scope > li.row")) : [];
      if (!fresh.length || !list.querySelector(":scope > li.row")) {
        var results = byId("list-results");
        if (results) htmx.swap(results, html, { swapStyle: "outerHTML" });
        markSelectedRow();
        return;
      }
      var keep = {};
      fresh.forEach(function (row) {
        keep[row.id] = true;
        var shown = byId(row.id);
        if (!shown || !sameRow(shown, row)) placeRow(document.importNode(row, true));
      });
      var freshMore = freshList.querySelector(":scope > .more-rows");
      var last = rowKey(fresh[fresh.length - 1]);
      list.querySelectorAll(":scope > li.row").forEach(function (row) {
        /* a row below the fresh page's end came with "More": the next live update settles it */
        if (!keep[row.id] && (!freshMore || compareRows(rowKey(row), last) < 0)) row.remove();
      });
      markSelectedRow();
    });
  }

  function onEvent(type, data) {
    var openId = openConversationId();
    if (type === "resync") {
      live.list = true;
      live.counts = true;
      if (openId) wantTail({ since: true, card: true });
      schedule();
    } else if (type === "conversation.updated") {
      wantRow(data.id);
      if (String(data.id) === openId) wantTail({ card: true });
    } else if (type === "message.created") {
      wantRow(data.conversation_id);
      if (String(data.conversation_id) === openId) wantTail({});
      if (data.direction === "in") maybeBeep(data);
    } else if (type === "message.updated") {
      /* not shown yet (its send is still being answered): the tail brings it as new, fresh */
      if (String(data.conversation_id) === openId) wantTail({ changed: data.message_id });
    } else if (type === "counts") {
      live.counts = true;
      schedule();
    } else if (type === "typing") {
      if (String(data.conversation_id) === openId && String(data.user_id) !== myUserId()) {
        showTyping(String(data.user_id), data.name);
      }
    } else if (type === "channel.updated") {
      live.list = true;
      schedule();
    }
  }

  var EVENT_TYPES = ["resync", "conversation.updated", "message.created", "message.updated", "counts", "typing", "channel.updated"];

  function connect() {
    var url = document.body.getAttribute("data-stream-url");
    if (!url || !window.EventSource || live.source) return;
    var source = new EventSource(url);
    live.source = source;
    EVENT_TYPES.forEach(function (type) {
      source.addEventListener(type, function (event) {
        var data = {};
        try {
          data = JSON.parse(event.data || "{}") || {};
        } catch (e) {
          data = {};
        }
        live.backoff = 1000;
        onEvent(type, data);
      });
    });
    source.onerror = function () {
      /* the browser reconnects by itself after a network error or the end of the stream
         (Redis gone: the server asks it to come back); an HTTP error closes it for good,
         so we come back ourselves, a little later each time */
      if (source.readyState === EventSource.CLOSED) reconnectLater();
    };
  }

  function reconnectLater() {
    if (live.source) live.source.close();
    live.source = null;
    if (live.reconnectTimer) return;
    var wait = live.backoff;
    live.backoff = Math.min(live.backoff * 2, 30000);
    live.reconnectTimer = setTimeout(function () {
      live.reconnectTimer = null;
      var counts = document.body.getAttribute("data-counts-url");
      /* still logged in? a 401 means the login page, not a retry loop */
      fetch(counts, { headers: { "HX-Request": "true" }, credentials: "same-origin" }).then(
        function (response) {
          if (response.status === 401) window.location.reload();
          else connect();
        },
        function () {
          reconnectLater();
        }
      );
    }, wait);
  }

  function wakeStream() {
    if (!live.source && !live.reconnectTimer) connect();
    else if (live.source && live.source.readyState === EventSource.CLOSED) reconnectLater();
  }

  /* ---- "Anna is typing..." --------------------------------------------------------------- */

  var typers = {};

  function renderTyping() {
    var box = byId("typing");
    if (!box) return;
    var names = Object.keys(typers).map(function (id) { return typers[id].name; });
    if (!names.length) {
      box.hidden = true;
      box.textContent = "";
      return;
    }
    box.textContent =
      names.length === 1
        ? (box.getAttribute("data-one") || "%(name)s").replace("%(name)s", names[0])
        : (box.getAttribute("data-many") || "%(names)s").replace("%(names)s", names.join(", "));
    box.hidden = false;
  }

  function showTyping(userId, name) {
    if (typers[userId]) clearTimeout(typers[userId].timer);
    typers[userId] = {
      name: name,
      timer: setTimeout(function () { hideTyping(userId); }, TYPING_SHOWN_MS),
    };
    renderTyping();
  }

  function hideTyping(userId) {
    if (!userId || !typers[userId]) return;
    clearTimeout(typers[userId].timer);
    delete typers[userId];
    renderTyping();
  }

  function forgetTypers() {
    Object.keys(typers).forEach(function (id) { clearTimeout(typers[id].timer); });
    typers = {};
  }

  var lastTypingSent = 0;

  function announceTyping(form) {
    var now = Date.now();
    if (now - lastTypingSent < TYPING_EVERY_MS) return;
    lastTypingSent = now;
    fetch(form.getAttribute("data-typing-url"), {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      credentials: "same-origin",
    }).catch(function () {
      /* a lost "typing" is no loss */
    });
  }

  /* ---- sound ------------------------------------------------------------------------------ */

  var audio = null;

  /* Browsers start audio only after the user touched the page: the context is made then. */
  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) {
      try {
        audio = new Context();
      } catch (e) {
        return null;
      }
    }
    if (audio.state === "suspended") audio.resume();
    return audio;
  }

  /* Two short soft tones, made here: no audio file to load. */
  function beep() {
    var ctx = unlockAudio();
    var played = Number(document.body.getAttribute("data-sound-played") || 0) + 1;
    document.body.setAttribute("data-sound-played", String(played));
    if (!ctx) return;
    var start = ctx.currentTime + 0.01;
    [880, 1320].forEach(function (frequency, i) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      var at = start + i * 0.12;
      osc.type = "sine";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.11);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.12);
    });
  }

  /* A new client message in a dialog that is unassigned or mine, for a user who wants sound;
     not while the salon bot is answering it; two tabs of one user play it once. */
  function maybeBeep(data) {
    if (document.body.getAttribute("data-sound") !== "on") return;
    if (data.with_bot) return;
    var assignee = data.assignee_id === null || data.assignee_id === undefined ? "" : String(data.assignee_id);
    if (assignee && assignee !== myUserId()) return;
    var local = storage("localStorage");
    if (local) {
      try {
        if (Number(local.getItem(BEEP_KEY) || 0) >= Number(data.message_id)) return;
        local.setItem(BEEP_KEY, String(data.message_id));
      } catch (e) {
        /* full or refused storage: play anyway */
      }
    }
    beep();
  }

  /* ---- the composer ---------------------------------------------------------------------- */

  function composerForm() {
    return byId("composer-form");
  }

  function composerText() {
    var form = composerForm();
    return form ? form.querySelector("textarea[name=text]") : null;
  }

  function noteMode(form) {
    var toggle = form && form.querySelector("[data-note-toggle]");
    return !!(toggle && toggle.checked);
  }

  function setNoteMode(form, on) {
    var toggle = form.querySelector("[data-note-toggle]");
    if (toggle) toggle.checked = on;
    var text = form.querySelector("textarea[name=text]");
    form.classList.toggle("as-note", on);
    text.placeholder = text.getAttribute(on ? "data-placeholder-note" : "data-placeholder-reply");
    var send = form.querySelector(".composer-send-label");
    var button = form.querySelector(".composer-send");
    if (send && button) send.textContent = button.getAttribute(on ? "data-label-note" : "data-label-reply");
    var hint = form.querySelector(".composer-hint");
    if (hint) hint.textContent = hint.getAttribute(on ? "data-note" : "data-reply");
    var attach = form.querySelector("input[type=file]");
    if (attach) attach.disabled = on; /* a note carries text only */
    if (on) setQuote(form, null);
  }

  function saveDraft(form) {
    var store = storage("sessionStorage");
    if (!store) return;
    var text = form.querySelector("textarea[name=text]").value;
    var key = DRAFT_KEY + form.getAttribute("data-conversation-id");
    try {
      if (text) store.setItem(key, text);
      else store.removeItem(key);
    } catch (e) {
      /* the draft lives on this page only */
    }
  }

  function restoreDraft() {
    var form = composerForm();
    var store = storage("sessionStorage");
    if (!form || !store) return;
    var text = form.querySelector("textarea[name=text]");
    var saved = store.getItem(DRAFT_KEY + form.getAttribute("data-conversation-id"));
    if (saved && !text.value) text.value = saved;
  }

  function insertAtCursor(textarea, value) {
    var start = textarea.selectionStart === undefined ? textarea.value.length : textarea.selectionStart;
    var end = textarea.selectionEnd === undefined ? start : textarea.selectionEnd;
    textarea.setRangeText(value, start, end, "end");
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function setQuote(form, message) {
    var box = form.querySelector(".composer-quote");
    var field = form.querySelector("input[name=reply_to_id]");
    if (!box || !field) return;
    if (!message) {
      field.value = "";
      box.hidden = true;
      return;
    }
    var text = message.querySelector(".bubble > .text");
    var file = message.querySelector(".att-name");
    var quoted = (text && text.textContent) || (file && file.textContent) || "…";
    field.value = message.id.replace("message-", "");
    box.querySelector(".composer-quote-text").textContent = quoted.length > 140 ? quoted.slice(0, 139) + "…" : quoted;
    box.hidden = false;
  }

  /* Variables a quick reply could not fill stay in the text ({visit.date}) and are flagged
     until they are replaced; the message isn't sent while one is left. */
  function missingLeft(form) {
    var warning = form.querySelector(".composer-warning");
    if (!warning || warning.hidden) return [];
    var text = form.querySelector("textarea[name=text]").value;
    var missing = JSON.parse(warning.getAttribute("data-missing") || "[]").filter(function (name) {
      return text.indexOf(name) !== -1;
    });
    if (!missing.length) warning.hidden = true;
    return missing;
  }

  function flagMissing(form, missing) {
    var warning = form.querySelector(".composer-warning");
    if (!warning) return;
    warning.setAttribute("data-missing", JSON.stringify(missing || []));
    if (!missing || !missing.length) {
      warning.hidden = true;
      return;
    }
    warning.textContent = (warning.getAttribute("data-text") || "%(vars)s").replace("%(vars)s", missing.join(", "));
    warning.hidden = false;
  }

  function showFiles(form) {
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector(".composer-files");
    if (!input || !list) return;
    list.replaceChildren();
    Array.prototype.forEach.call(input.files, function (file, index) {
      var item = document.createElement("li");
      item.className = "composer-file";
      item.setAttribute("data-testid", "composer-file");
      var name = document.createElement("span");
      name.className = "composer-file-name";
      name.textContent = file.name;
      var size = document.createElement("span");
      size.className = "muted";
      size.textContent = file.size >= 1048576 ? (file.size / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(file.size / 1024)) + " KB";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "tag-x";
      remove.textContent = "×";
      remove.setAttribute("aria-label", (list.getAttribute("data-remove") || "%(name)s").replace("%(name)s", file.name));
      remove.setAttribute("data-remove-file", String(index));
      item.append(name, " ", size, remove);
      list.appendChild(item);
    });
    list.hidden = !input.files.length;
  }

  function removeFile(form, index) {
    var input = form.querySelector("input[type=file]");
    var kept = new DataTransfer();
    Array.prototype.forEach.call(input.files, function (file, i) {
      if (i !== index) kept.items.add(file);
    });
    input.files = kept.files;
    showFiles(form);
  }

  function resetComposer(form) {
    var text = form.querySelector("textarea[name=text]");
    text.value = "";
    saveDraft(form);
    setQuote(form, null);
    flagMissing(form, []);
    var input = form.querySelector("input[type=file]");
    if (input) input.value = "";
    showFiles(form);
    text.focus();
  }

  function submitComposer(form) {
    if (form.classList.contains("htmx-request")) return; /* one send at a time */
    var text = form.querySelector("textarea[name=text]");
    var files = form.querySelector("input[type=file]");
    if (!text.value.trim() && !(files && files.files.length && !noteMode(form))) return;
    if (missingLeft(form).length) {
      var warning = form.querySelector(".composer-warning");
      warning.classList.remove("shake");
      void warning.offsetWidth; /* restart the animation */
      warning.classList.add("shake");
      return;
    }
    form.requestSubmit();
  }

  function closePops(except) {
    document.querySelectorAll(".composer-pop").forEach(function (pop) {
      if (pop === except || pop.hidden) return;
      pop.hidden = true;
      var toggle = document.querySelector("[aria-controls='" + pop.id + "']");
      if (toggle) toggle.setAttribute("aria-expanded", "false");
    });
  }

  function togglePop(pop, toggle) {
    var opening = pop.hidden;
    closePops(pop);
    pop.hidden = !opening;
    if (toggle) toggle.setAttribute("aria-expanded", opening ? "true" : "false");
    return opening;
  }

  function openQuickReplies() {
    var form = composerForm();
    var pop = byId("quick-replies-pop");
    if (!form || !pop) return;
    var toggle = document.querySelector("[data-quick-replies-toggle]");
    if (!togglePop(pop, toggle)) {
      composerText().focus();
      return;
    }
    htmx.ajax("GET", form.getAttribute("data-picker-url"), { target: pop, swap: "innerHTML" }).then(function () {
      htmx.process(pop); /* now, not at settle: the search must listen from the first key */
      var search = byId("quick-replies-search");
      if (search) search.focus();
    });
  }

  /* A quick reply was chosen: its filled text goes into the box for editing, never sent. */
  function useQuickReply(filled) {
    var form = composerForm();
    if (!form) return;
    var text = form.querySelector("textarea[name=text]");
    if (noteMode(form)) setNoteMode(form, false);
    if (!text.value.trim()) text.value = "";
    text.focus();
    insertAtCursor(text, filled.text || "");
    flagMissing(form, filled.missing || []);
    closePops();
    text.focus();
  }

  /* The picker's buttons carry hx-get (GET the filled text as JSON); fetched here rather than by
     htmx, so a choice made while the search is still refreshing the list is not lost with the
     button it was made on. */
  function onQuickReplyClick(event) {
    var button = event.target.closest && event.target.closest("[data-quick-reply]");
    if (!button || !composerForm()) return;
    event.preventDefault();
    event.stopPropagation();
    fetch(button.getAttribute("hx-get"), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(useQuickReply, function () {
        /* a template deleted meanwhile: the picker stays open to choose another */
      });
  }

  function moveInPicker(event) {
    var pop = byId("quick-replies-pop");
    if (!pop || pop.hidden || !pop.contains(event.target)) return false;
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return false;
    var items = [byId("quick-replies-search")].concat(Array.prototype.slice.call(pop.querySelectorAll(".quick-reply")));
    var at = items.indexOf(document.activeElement);
    var next = items[Math.max(0, Math.min(items.length - 1, at + (event.key === "ArrowDown" ? 1 : -1)))];
    if (next) next.focus();
    event.preventDefault();
    return true;
  }

  /* ---- keyboard --------------------------------------------------------------------------- */

  var navTarget = null; /* the row asked for last: J J J moves on before each dialog arrives */

  function moveInList(step) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#list-rows > li.row"));
    if (!rows.length) return;
    var current = navTarget && byId(navTarget) ? byId(navTarget) : document.querySelector("#list-rows > li.row.selected");
    var index = current ? rows.indexOf(current) + step : step > 0 ? 0 : rows.length - 1;
    var row = rows[Math.max(0, Math.min(rows.length - 1, index))];
    if (!row || row === current) return;
    navTarget = row.id;
    var link = row.querySelector(".row-link");
    link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    link.click();
  }

  function focusComposer(asNote) {
    var form = composerForm();
    if (!form) return;
    if (noteMode(form) !== asNote) setNoteMode(form, asNote);
    var text = composerText();
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
  }

  /* An action answers with the whole dialog: a second one sent before that answer came would
     post from a form about to be replaced, and its answer would land nowhere. Wait for it. */
  function whenDialogIdle(action, tries) {
    tries = tries || 0;
    if (document.querySelector("#dialog .htmx-request, #dialog.htmx-request") && tries < 50) {
      setTimeout(function () { whenDialogIdle(action, tries + 1); }, 100);
      return;
    }
    action();
  }

  function takeDialog() {
    var select = document.querySelector("#dialog-head select[name=assignee]");
    var me = myUserId();
    if (!select || !me || select.value === me) return;
    if (!select.querySelector("option[value='" + me + "']")) return;
    select.value = me;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function pressButton(testid) {
    var button = document.querySelector("#dialog-head [data-testid='" + testid + "']");
    /* a click, not requestSubmit: htmx sends the clicked button's value (preset=1d) */
    if (button) button.click();
  }

  function toggleHelp() {
    var help = byId("hotkeys-help");
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  }

  var SHORTCUTS = {
    KeyJ: function () { moveInList(1); },
    KeyK: function () { moveInList(-1); },
    KeyR: function () { focusComposer(false); },
    KeyN: function () { focusComposer(true); },
    KeyT: openQuickReplies,
    KeyA: function () { whenDialogIdle(takeDialog); },
    KeyE: function () { whenDialogIdle(function () { pressButton("close"); }); },
    KeyS: function () { whenDialogIdle(function () { pressButton("snooze-1d"); }); },
  };

  function onEscape(event) {
    var form = composerForm();
    var openPop = document.querySelector(".composer-pop:not([hidden])");
    if (openPop) {
      closePops();
      if (composerText()) composerText().focus();
      event.preventDefault();
      return;
    }
    var menus = document.querySelectorAll("details.menu[open]");
    if (menus.length) {
      menus.forEach(function (menu) { menu.removeAttribute("open"); });
      event.preventDefault();
      return;
    }
    if (form && event.target === composerText() && form.querySelector("input[name=reply_to_id]").value) {
      setQuote(form, null);
      event.preventDefault();
      return;
    }
    if (isTypingTarget(event.target)) event.target.blur();
  }

  function onKeydown(event) {
    if (event.key === "Escape") {
      onEscape(event);
      return;
    }
    if (moveInPicker(event)) return;
    var text = composerText();
    if (text && event.target === text && event.key === "Enter" && !event.isComposing) {
      if (event.shiftKey || event.altKey) return; /* a new line */
      event.preventDefault();
      submitComposer(composerForm());
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (isTypingTarget(event.target)) return;
    var help = byId("hotkeys-help");
    if (event.code === "Slash" && event.shiftKey) {
      toggleHelp();
      event.preventDefault();
      return;
    }
    if (help && help.open) return;
    if (event.shiftKey) return;
    if (event.code === "Slash") {
      var search = document.querySelector("#list-filters input[name=q]");
      if (search) {
        search.focus();
        search.select();
        event.preventDefault();
      }
      return;
    }
    var action = SHORTCUTS[event.code];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  /* ---- the rest: clicks, copy link, collapsing the list ---------------------------------- */

  function setCollapsed(collapsed) {
    var inbox = byId("inbox");
    if (!inbox) return;
    inbox.classList.toggle("list-collapsed", collapsed);
    document.querySelectorAll("[data-collapse-list]").forEach(function (button) {
      button.setAttribute("aria-expanded", collapsed ? "false" : "true");
    });
    var local = storage("localStorage");
    try {
      if (local) local.setItem(COLLAPSED_KEY, collapsed ? "1" : "0");
    } catch (e) {
      /* the choice lasts for this page only */
    }
  }

  function showToast(text) {
    var flash = byId("flash");
    if (!flash) return;
    var note = document.createElement("div");
    note.className = "flash info";
    note.setAttribute("role", "status");
    note.textContent = text;
    flash.replaceChildren(note);
    setTimeout(function () {
      if (note.parentNode) note.remove();
    }, 2500);
  }

  /* navigator.clipboard exists only on https or localhost; a salon's LAN address is neither. */
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } finally {
      area.remove();
    }
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function onClick(event) {
    var target = event.target;
    var copy = target.closest("[data-copy-link]");
    if (copy) {
      var url = copy.getAttribute("data-copy-link");
      copyText(url).then(
        function () { showToast(copy.getAttribute("data-copied") || url); },
        function () { window.prompt("", url); }
      );
      return;
    }
    if (target.closest("[data-collapse-list]")) {
      var inbox = byId("inbox");
      setCollapsed(!(inbox && inbox.classList.contains("list-collapsed")));
      return;
    }
    if (target.closest("[data-hotkeys-toggle]")) {
      toggleHelp();
      return;
    }
    var help = byId("hotkeys-help");
    if (help && target === help) help.close(); /* a click on the backdrop */

    var form = composerForm();
    var reply = target.closest("[data-reply-to]");
    if (reply && form) {
      if (noteMode(form)) setNoteMode(form, false);
      setQuote(form, reply.closest(".msg"));
      composerText().focus();
      return;
    }
    if (target.closest("[data-quote-cancel]") && form) {
      setQuote(form, null);
      composerText().focus();
      return;
    }
    var removeButton = target.closest("[data-remove-file]");
    if (removeButton && form) {
      removeFile(form, Number(removeButton.getAttribute("data-remove-file")));
      return;
    }
    var emojiToggle = target.closest("[data-emoji-toggle]");
    if (emojiToggle) {
      var picker = byId("emoji-picker");
      if (picker && togglePop(picker, emojiToggle)) {
        var first = picker.querySelector("[data-emoji]");
        if (first) first.focus();
      }
      return;
    }
    var emoji = target.closest("[data-emoji]");
    if (emoji && form) {
      var text = composerText();
      text.focus();
      insertAtCursor(text, emoji.getAttribute("data-emoji"));
      closePops();
      return;
    }
    if (target.closest("[data-quick-replies-toggle]")) {
      openQuickReplies();
      return;
    }
    /* an open menu (Snooze) or picker closes when the click lands elsewhere */
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
    if (!target.closest(".composer-pop")) closePops();

    var flash = target.closest("#flash .flash");
    if (flash) flash.remove();
  }

  function onInput(event) {
    var target = event.target;
    var form = target.form;
    if (form && form.id === "composer-form") {
      if (target.name === "text") {
        saveDraft(form);
        missingLeft(form);
        if (!noteMode(form) && target.value.trim()) announceTyping(form);
      }
      return;
    }
    var card = byId("card");
    if (card && card.contains(target)) card.setAttribute("data-dirty", "1");
  }

  function onChange(event) {
    var target = event.target;
    var form = target.form;
    if (!form || form.id !== "composer-form") return;
    if (target.hasAttribute("data-note-toggle")) setNoteMode(form, target.checked);
    else if (target.type === "file") showFiles(form);
  }

  /* The composer posts to the note action when the toggle says so, and tells the server the
     last message shown, so its answer brings the messages after it. */
  function configRequest(event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "composer-form") return;
    if (noteMode(elt)) event.detail.path = elt.getAttribute("data-note-url");
    event.detail.parameters.set("after", lastMessageId());
  }

  function afterRequest(event) {
    var elt = event.detail.elt;
    if (!elt) return;
    if (elt.id === "composer-form" && event.detail.successful) {
      resetComposer(elt);
      finishSwap();
    } else if (event.detail.successful) {
      finishSwap();
    }
  }

  function onNewContent(elt) {
    if (elt.id === "dialog" || elt === document.body) {
      navTarget = null;
      lastTypingSent = 0;
      forgetTypers();
      restoreDraft();
      scrollDialogToBottom();
      markSelectedRow();
    } else if (elt.id === "composer") {
      restoreDraft();
    } else if (elt.id === "list-results" || (elt.classList && elt.classList.contains("row"))) {
      markSelectedRow();
    } else if (elt.id === "flash" && elt.querySelector(".flash.error")) {
      setTimeout(function () {
        var shown = elt.querySelector(".flash.error");
        if (shown) shown.remove();
      }, 8000);
    }
  }

  /* The header's switch was swapped in: <body data-sound> says what maybeBeep obeys. */
  function syncSound() {
    var toggle = byId("sound-toggle");
    var on = !!toggle && toggle.getAttribute("data-sound") === "on";
    document.body.setAttribute("data-sound", on ? "on" : "off");
    if (on) unlockAudio();
  }

  function start() {
    var local = storage("localStorage");
    var collapsed = false;
    try {
      collapsed = !!local && local.getItem(COLLAPSED_KEY) === "1";
    } catch (e) {
      collapsed = false;
    }
    if (collapsed) setCollapsed(true);

    /* images arrive after the dialog: keep the latest message in view if the reader was there */
    document.addEventListener("load", function (event) {
      var box = byId("messages");
      if (event.target.tagName === "IMG" && box && box.contains(event.target)) {
        if (box.scrollHeight - box.scrollTop - box.clientHeight < 400) scrollDialogToBottom();
      }
    }, true);

    document.addEventListener("click", onQuickReplyClick, true);
    document.addEventListener("click", onClick);
    document.addEventListener("keydown", onKeydown);
    document.addEventListener("input", onInput);
    document.addEventListener("change", onChange);
    ["pointerdown", "keydown"].forEach(function (type) {
      document.addEventListener(type, function () {
        if (document.body.getAttribute("data-sound") === "on") unlockAudio();
      }, { once: true });
    });

    document.body.addEventListener("htmx:beforeSwap", beforeSwap);
    document.body.addEventListener("htmx:configRequest", configRequest);
    document.body.addEventListener("htmx:afterRequest", afterRequest);
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target.id === "sound-form") syncSound();
    });
    if (window.htmx) {
      htmx.onLoad(onNewContent);
      connect();
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "visible") wakeStream();
      });
      window.addEventListener("online", wakeStream);
    } else {
      onNewContent(document.body);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
