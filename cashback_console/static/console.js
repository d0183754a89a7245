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
  livePreview(document.getElementById("promotion-form"), document.getElementById("promotion-previews"));
  const form = document.getElementById("campaign-form");
  const panel = document.getElementById("simulation");
  if (!form || !panel) return;
  let timer = null;
  let inflight = null;
  const simulate = async () => {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    panel.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.dataset.simulate, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-Console-Fragment": "simulation" }, signal: inflight.signal,
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
  const later = () => { clearTimeout(timer); timer = setTimeout(simulate, 400); };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  const button = document.getElementById("simulate-button");
  if (button) button.addEventListener("click", (event) => { event.preventDefault(); simulate(); });
  simulate();
});


// As a promotion's texts are typed, each is rendered by notify as customers will get it, with
// its SMS encoding and segment count (the Persian opt-out line included).
function livePreview(form, panel) {
  if (!form || !panel) return;
  let timer = null;
  let inflight = null;
  const refresh = async () => {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    panel.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.dataset.preview, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-Console-Fragment": "promotion-previews" }, signal: inflight.signal,
      });
      if (response.redirected) {
        window.location.assign(response.url);
        return;
      }
      if (response.ok) panel.innerHTML = await response.text();
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    } finally {
      panel.removeAttribute("aria-busy");
    }
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 400); });
}
