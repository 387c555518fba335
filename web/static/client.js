"use strict";
// Shared by the ask page and the widget: asks /ask/stream, shows the answer as it streams,
// sends the feedback buttons. Text from the server is set with textContent; only the final
// answer's HTML, sanitised on the server, is set as HTML.

const HISTORY_TURNS = 6;
const BUTTONS = [
  ["up", "👍", "Helpful"],
  ["down", "👎", "Not helpful"],
  ["fixed", "✅", "This fixed it"],
];

function clientId() {
  const fresh = () => {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  try {
    let id = window.localStorage.getItem("leximind-client");
    if (!id || !/^[0-9a-f]{32}$/.test(id)) {
      id = fresh();
      window.localStorage.setItem("leximind-client", id);
    }
    return id;
  } catch (e) {
    if (!clientId.memory) clientId.memory = fresh();
    return clientId.memory;
  }
}

function el(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeUrl(url) {
  return typeof url === "string" && /^https?:\/\//.test(url) ? url : null;
}

async function postJson(base, path, csrf, body) {
  return fetch(base + path, {
    method: "POST",
    mode: "cors",
    credentials: "omit",
    headers: { "content-type": "application/json", "x-leximind-csrf": csrf },
    body: JSON.stringify(body),
  });
}

async function errorDetail(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
  } catch (e) {
    /* not JSON */
  }
  return "The server answered " + response.status + ".";
}

// Reads a text/event-stream body and calls handlers[event](data) for each event.
async function readEvents(response, handlers) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (data.length && handlers[name]) handlers[name](JSON.parse(data.join("\n")));
    }
  }
}

class Conversation {
  // `root` holds the turns; `config` has base (the server's URL), csrf, kb.
  constructor(doc, root, config, onStatus) {
    this.doc = doc;
    this.root = root;
    this.config = config;
    this.onStatus = onStatus || (() => {});
    this.history = [];
    this.busy = false;
  }

  reset() {
    this.history = [];
    this.root.replaceChildren();
  }

  async ask(question) {
    question = question.trim();
    if (!question || this.busy) return false;
    this.busy = true;
    const turn = new Turn(this, question);
    this.root.appendChild(turn.node);
    this.onStatus("Looking it up…");
    const body = {
      question: question,
      kb: this.config.kb || null,
      history: this.history.slice(-HISTORY_TURNS),
      client: clientId(),
    };
    try {
      const response = await postJson(this.config.base, "/ask/stream", this.config.csrf, body);
      if (!response.ok) {
        turn.failed(await errorDetail(response));
      } else {
        await readEvents(response, {
          sources: (d) => turn.sources(d),
          token: (d) => turn.token(d.text),
          done: (d) => {
            turn.done(d);
            this.history.push({ question: question, answer: d.text });
          },
          error: (d) => turn.failed(d.detail),
        });
      }
    } catch (e) {
      turn.failed("Leximind could not be reached from this page.");
    } finally {
      this.busy = false;
      this.onStatus(turn.finished ? "Answer ready." : "");
    }
    return true;
  }
}

class Turn {
  constructor(conversation, question) {
    const doc = conversation.doc;
    this.conversation = conversation;
    this.doc = doc;
    this.finished = false;
    this.node = el(doc, "article", "turn");
    this.node.appendChild(el(doc, "p", "question", question));
    this.answer = el(doc, "div", "answer streaming");
    this.answer.setAttribute("aria-busy", "true");
    this.meta = el(doc, "p", "meta");
    this.sourceList = el(doc, "ol", "sources");
    this.node.append(this.answer, this.meta, this.sourceList);
    this.text = "";
  }

  sources(data) {
    this.sourceList.replaceChildren();
    data.sources.forEach((s) => {
      const item = el(this.doc, "li", "source");
      item.id = "source-" + s.number;
      const url = safeUrl(s.url);
      const label = s.path + " (lines " + s.lines + ")";
      const link = el(this.doc, url ? "a" : "span", "source-link", label);
      if (url) {
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
      }
      item.append(el(this.doc, "span", "source-number", "[" + s.number + "] "), link);
      if (s.title) item.appendChild(el(this.doc, "span", "source-title", " — " + s.title));
      this.sourceList.appendChild(item);
    });
    if (data.abstaining) this.node.classList.add("declined");
  }

  token(text) {
    this.text += text;
    this.answer.textContent = this.text;
  }

  done(data) {
    this.finished = true;
    this.answer.classList.remove("streaming");
    this.answer.removeAttribute("aria-busy");
    // Sanitised on the server (nh3): no scripts, event attributes or javascript: links.
    this.answer.innerHTML = data.html;
    this.answer.querySelectorAll("a").forEach((a) => {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    });
    if (data.abstained) {
      this.node.classList.add("declined");
      this.answer.prepend(el(this.doc, "p", "dont-know", "I don't know."));
    }
    this.meta.textContent = data.confidence_words + " · " + data.model;
    this.node.dataset.interaction = data.interaction_id;
    this.node.appendChild(this.feedbackBar(data.interaction_id));
  }

  failed(message) {
    this.answer.classList.remove("streaming");
    this.answer.removeAttribute("aria-busy");
    this.answer.classList.add("error");
    this.answer.textContent = message;
  }

  feedbackBar(interactionId) {
    const bar = el(this.doc, "div", "feedback");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Was this helpful?");
    const note = el(this.doc, "span", "feedback-note");
    const buttons = BUTTONS.map(([name, emoji, label]) => {
      const button = el(this.doc, "button", "feedback-" + name, emoji + " " + label);
      button.type = "button";
      button.setAttribute("aria-pressed", "false");
      button.dataset.button = name;
      button.addEventListener("click", async () => {
        const active = button.getAttribute("aria-pressed") !== "true";
        const config = this.conversation.config;
        try {
          const response = await postJson(config.base, "/web/feedback", config.csrf, {
            interaction_id: interactionId,
            client: clientId(),
            button: name,
            active: active,
          });
          if (!response.ok) {
            note.textContent = await errorDetail(response);
            return;
          }
          buttons.forEach((b) => b.setAttribute("aria-pressed", "false"));
          button.setAttribute("aria-pressed", active ? "true" : "false");
          note.textContent = active ? "Thanks, noted." : "Taken back.";
        } catch (e) {
          note.textContent = "Your feedback could not be sent.";
        }
      });
      return button;
    });
    bar.append(...buttons, note);
    return bar;
  }
}
