// The console's only script: the live simulation beside the campaign form, the live preview
// (and SMS segment count) of a promotion's texts, confirmations, and selects that submit
// themselves. Every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select[data-autosubmit]").forEach((el) => {
    el.addEventListener("change", () => el.form.submit());
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // As a promotion's texts are typed, each is rendered by notify as customers will get it, with
  // its SMS encoding and segment count (the Persian opt-out line included).
  const promotion = document.getElementById("promotion-form");
  liveFragment(promotion, document.getElementById("promotion-previews"), promotion?.dataset.preview,
               "promotion-previews", ["input"]);
  // What the campaign being edited would have cost over last month's orders.
  const form = document.getElementById("campaign-form");
  const simulate = liveFragment(form, document.getElementById("simulation"), form?.dataset.simulate,
                                "simulation", ["input", "change"]);
  if (!simulate) return;
  const button = document.getElementById("simulate-button");
  if (button) button.addEventListener("click", (event) => { event.preventDefault(); simulate(); });
  simulate();
});


// Posts `form` to `url` 400 ms after the last of `events` and puts the fragment the console
// answers into `panel`; a newer post aborts an older one. Returns the refresh, or null when the
// page has no such form.
function liveFragment(form, panel, url, fragment, events) {
  if (!form || !panel) return null;
  let timer = null;
  let inflight = null;
  const refresh = async () => {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    panel.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-Console-Fragment": fragment }, signal: inflight.signal,
      });
      if (response.redirected) {
        window.location.assign(response.url);  // the session ended: go where the console sends us
        return;
      }
      if (response.ok) panel.innerHTML = await response.text();
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    } finally {
      panel.removeAttribute("aria-busy");
    }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(refresh, 400); };
  events.forEach((name) => form.addEventListener(name, later));
  return refresh;
}
