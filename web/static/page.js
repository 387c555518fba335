// The ask page: the question box, Enter to ask, a new conversation on demand.
const config = document.getElementById("leximind").dataset;
const form = document.getElementById("ask-form");
const box = document.getElementById("question");
const status = document.getElementById("status");
const conversation = new Conversation(
  document,
  document.getElementById("conversation"),
  { base: config.base || "", csrf: config.csrf, kb: config.kb },
  (text) => {
    status.textContent = text;
  },
);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = box.value;
  if (await conversation.ask(question)) box.value = "";
  box.focus();
});
box.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
document.getElementById("new-conversation").addEventListener("click", () => {
  conversation.reset();
  box.focus();
});
box.focus();
