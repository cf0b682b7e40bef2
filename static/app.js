/* Okno: the little the inbox needs beyond htmx. No framework, no build step. */
(function () {
  "use strict";

  var COLLAPSED_KEY = "okno.listCollapsed";

  function openConversationId() {
    var dialog = document.getElementById("dialog");
    return dialog ? dialog.getAttribute("data-conversation-id") : null;
  }

  /* The dialog opens at its latest message. */
  function scrollDialogToBottom() {
    var messages = document.getElementById("messages");
    if (messages) messages.scrollTop = messages.scrollHeight;
  }

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

  function setCollapsed(collapsed) {
    var inbox = document.getElementById("inbox");
    if (!inbox) return;
    inbox.classList.toggle("list-collapsed", collapsed);
    document.querySelectorAll("[data-collapse-list]").forEach(function (button) {
      button.setAttribute("aria-expanded", collapsed ? "false" : "true");
    });
    try {
      localStorage.setItem(COLLAPSED_KEY, collapsed ? "1" : "0");
    } catch (e) {
      /* private mode: the choice lasts for this page only */
    }
  }

  function showToast(text) {
    var flash = document.getElementById("flash");
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

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy-link]");
    if (copy) {
      var url = copy.getAttribute("data-copy-link");
      copyText(url).then(
        function () { showToast(copy.getAttribute("data-copied") || url); },
        function () { window.prompt("", url); }
      );
      return;
    }
    if (event.target.closest("[data-collapse-list]")) {
      var inbox = document.getElementById("inbox");
      setCollapsed(!(inbox && inbox.classList.contains("list-collapsed")));
      return;
    }
    if (event.target.closest("[data-hotkeys-toggle]")) {
      var help = document.getElementById("hotkeys-help");
      if (help && help.open) help.close();
      else if (help) help.showModal();
      return;
    }
    var help2 = document.getElementById("hotkeys-help");
    if (help2 && event.target === help2) help2.close(); /* a click on the backdrop */

    /* an open menu (Snooze) closes when the click lands elsewhere */
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
    });
  });

  /* An error message in #flash goes away by itself after a while, or on a click. */
  document.addEventListener("click", function (event) {
    var flash = event.target.closest("#flash .flash");
    if (flash) flash.remove();
  });

  /* An action's answer carries its conversation's list row (data-list-row): a row shown is
     replaced in place (no jumping under the cursor), a row not shown yet goes to the top
     (it has the newest activity), and a "delete" for a row not shown is dropped. htmx
     would otherwise report every out-of-band target it can't find as an error. */
  function placeListRows(event) {
    var html = event.detail.serverResponse;
    if (typeof html !== "string" || html.indexOf("data-list-row") === -1) return;
    var list = document.getElementById("list-rows");
    var template = document.createElement("template");
    template.innerHTML = html;
    template.content.querySelectorAll("[data-list-row]").forEach(function (elt) {
      if (document.getElementById(elt.id)) return;
      if (elt.getAttribute("hx-swap-oob") === "delete" || !list) {
        elt.remove();
        return;
      }
      var wrapper = document.createElement("ul");
      wrapper.setAttribute("hx-swap-oob", "afterbegin:#list-rows");
      elt.removeAttribute("hx-swap-oob");
      elt.replaceWith(wrapper);
      wrapper.appendChild(elt);
    });
    event.detail.serverResponse = template.innerHTML;
  }

  function onNewContent(elt) {
    if (elt.id === "dialog" || elt === document.body) {
      scrollDialogToBottom();
      markSelectedRow();
    } else if (elt.id === "list-results" || (elt.classList && elt.classList.contains("row"))) {
      markSelectedRow();
    } else if (elt.id === "flash" && elt.querySelector(".flash.error")) {
      setTimeout(function () {
        var shown = elt.querySelector(".flash.error");
        if (shown) shown.remove();
      }, 8000);
    }
  }

  function start() {
    var collapsed = false;
    try {
      collapsed = localStorage.getItem(COLLAPSED_KEY) === "1";
    } catch (e) {
      collapsed = false;
    }
    if (collapsed) setCollapsed(true);

    /* images arrive after the dialog: keep the latest message in view if the reader was there */
    var messages = document.getElementById("messages");
    document.addEventListener("load", function (event) {
      var box = document.getElementById("messages");
      if (event.target.tagName === "IMG" && box && box.contains(event.target)) {
        if (box.scrollHeight - box.scrollTop - box.clientHeight < 400) scrollDialogToBottom();
      }
    }, true);

    document.body.addEventListener("htmx:beforeSwap", placeListRows);
    if (window.htmx) {
      htmx.onLoad(onNewContent);
    } else if (messages) {
      onNewContent(document.body);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
