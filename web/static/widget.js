// The docs-site widget: <script src="https://HOST/widget.js" data-kb="NAME" async></script>
// adds an Ask button and a panel in a shadow root, styled through the CSSOM (no inline
// <style> or style attribute a host page's CSP would block), talking only to HOST, without
// cookies.
const script = document.currentScript;
const base = new URL(script.src).origin;
const kb = script.dataset.kb || null;

function mount() {
  const host = document.createElement("div");
  host.className = "leximind-widget";
  document.body.appendChild(host);
  const shadow = host.attachShadow({ mode: "open" });
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(WIDGET_CSS);
  shadow.adoptedStyleSheets = [sheet];

  const open = el(document, "button", "open", "Ask");
  open.type = "button";
  open.setAttribute("aria-expanded", "false");
  open.setAttribute("aria-controls", "leximind-panel");
  const panel = el(document, "section", "panel");
  panel.id = "leximind-panel";
  panel.hidden = true;
  panel.setAttribute("aria-label", "Ask Leximind");
  const heading = el(document, "h2", "title", kb ? "Ask about " + kb : "Ask");
  const close = el(document, "button", "close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close");
  const turns = el(document, "div", "conversation");
  turns.setAttribute("aria-live", "polite");
  const status = el(document, "p", "status");
  status.setAttribute("role", "status");
  const form = el(document, "form", "ask-form");
  const label = el(document, "label", "label", "Your question");
  const box = el(document, "textarea", "box");
  box.id = "leximind-question";
  label.htmlFor = box.id;
  box.rows = 2;
  box.maxLength = 2000;
  const submit = el(document, "button", "ask", "Ask");
  submit.type = "submit";
  form.append(label, box, submit);
  panel.append(heading, close, turns, status, form);
  shadow.append(open, panel);

  const config = { base: base, csrf: null, kb: kb };
  const conversation = new Conversation(document, turns, config, (text) => {
    status.textContent = text;
  });

  async function session() {
    if (config.csrf) return true;
    try {
      const response = await fetch(base + "/web/session", { mode: "cors", credentials: "omit" });
      if (!response.ok) throw new Error(String(response.status));
      config.csrf = (await response.json()).csrf;
      return true;
    } catch (e) {
      status.textContent = "This site is not allowed to ask Leximind.";
      panel.classList.add("refused");
      return false;
    }
  }

  function toggle(show) {
    panel.hidden = !show;
    open.setAttribute("aria-expanded", show ? "true" : "false");
    if (show) {
      box.focus();
      session();
    } else {
      open.focus();
    }
  }
  open.addEventListener("click", () => toggle(panel.hidden));
  close.addEventListener("click", () => toggle(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toggle(false);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!(await session())) return;
    if (await conversation.ask(box.value)) box.value = "";
    box.focus();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

if (document.body) mount();
else document.addEventListener("DOMContentLoaded", mount);
