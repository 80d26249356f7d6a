// Media lessons: resume where you left off, save the position as you
// watch, mark the lesson complete at the end and go on to the next one.
// Pages work without this script; it only adds the media behaviour.
"use strict";
(function () {
  const media = document.getElementById("media");
  const token = document.querySelector('meta[name="csrf-token"]');
  if (!media || !token) return;
  const id = media.dataset.file;
  const save = (body) =>
    fetch(`/api/files/${id}/progress`, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: true,
      headers: { "content-type": "application/json", "x-csrf-token": token.content },
      body: JSON.stringify(body),
    }).catch(() => {});

  const resume = parseFloat(media.dataset.resume || "0");
  media.addEventListener("loadedmetadata", () => {
    if (resume > 0 && resume < media.duration - 2) media.currentTime = resume;
  });

  let saved = 0;
  media.addEventListener("timeupdate", () => {
    if (Math.abs(media.currentTime - saved) >= 10) {
      saved = media.currentTime;
      save({ position_seconds: media.currentTime });
    }
  });
  media.addEventListener("pause", () => save({ position_seconds: media.currentTime }));

  const autoplay = document.getElementById("autoplay");
  if (autoplay) {
    autoplay.checked = localStorage.getItem("lectern.autoplay") !== "off";
    autoplay.addEventListener("change", () =>
      localStorage.setItem("lectern.autoplay", autoplay.checked ? "on" : "off"));
  }
  media.addEventListener("ended", async () => {
    await save({ position_seconds: 0, completed: true });
    const next = media.dataset.next;
    if (next && autoplay && autoplay.checked) location.assign(next + "?autoplay=1");
    else location.reload();
  });
  if (new URLSearchParams(location.search).has("autoplay")) media.play().catch(() => {});
})();

// Admin: a running scan's progress, followed live; the page reloads with
// the final counts when the scan ends. Without this script the page
// refreshes itself every two seconds.
(function () {
  const live = document.getElementById("scan-live");
  if (!live || live.dataset.running !== "yes") return;
  const id = Number(live.dataset.scan);
  const set = (elementId, text) => {
    const element = document.getElementById(elementId);
    if (element) element.textContent = text;
  };
  const size = (bytes) => {
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  };
  const started = Number(live.dataset.started) || Date.now();
  const elapsed = (ms) => {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  };
  const poll = async () => {
    try {
      const reply = await fetch("/api/scanner/status", { credentials: "same-origin" });
      const status = await reply.json();
      if (!status.running || status.scan_id !== id) { location.reload(); return; }
      const bar = document.getElementById("scan-progress");
      if (bar) bar.value = status.percent;
      set("scan-percent", `${status.percent.toFixed(1)} %`);
      set("scan-phase", status.phase);
      set("scan-files", String(status.files_seen));
      set("scan-bytes", size(status.bytes_hashed));
      set("scan-elapsed", elapsed(Date.now() - started));
    } catch (e) { /* the next poll tries again */ }
    setTimeout(poll, 400);
  };
  poll();
})();

// Admin: an upload's progress. The form posts as it would without the
// script, only through XMLHttpRequest, whose upload events tell how much
// has been sent; the browser streams the file from disk.
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const meter = document.getElementById("upload-meter");
  const bar = document.getElementById("upload-progress");
  const percent = document.getElementById("upload-percent");
  const error = document.getElementById("upload-error");
  const button = document.getElementById("upload-button");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    meter.hidden = false;
    error.hidden = true;
    button.disabled = true;
    request.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const done = (100 * e.loaded) / e.total;
      bar.value = done;
      percent.textContent = `${done.toFixed(1)} %`;
    });
    request.upload.addEventListener("load", () => { percent.textContent = "checking the archive…"; });
    request.addEventListener("load", () => {
      if (request.status < 400) { location.assign(request.responseURL); return; }
      const page = new DOMParser().parseFromString(request.responseText, "text/html");
      const reason = page.querySelector(".error");
      error.textContent = reason ? reason.textContent : `The upload was refused (${request.status}).`;
      error.hidden = false;
      button.disabled = false;
    });
    request.addEventListener("error", () => {
      error.textContent = "The upload broke off: the connection to the server was lost.";
      error.hidden = false;
      button.disabled = false;
    });
    request.send(new FormData(form));
  });
})();

// Admin: while a restore runs, what it is doing (from the backup status,
// which answers during maintenance).
(function () {
  const form = document.getElementById("restore-form");
  if (!form) return;
  form.addEventListener("submit", () => {
    const wait = document.getElementById("restore-wait");
    wait.hidden = false;
    document.getElementById("confirm-restore").disabled = true;
    const poll = async () => {
      try {
        const reply = await fetch("/api/admin/backup/status", { credentials: "same-origin" });
        if (reply.ok) {
          const status = await reply.json();
          if (status.running) wait.textContent = `Restoring: ${status.running.step}…`;
        }
      } catch (e) { /* the restore's own answer moves the page on */ }
      setTimeout(poll, 500);
    };
    setTimeout(poll, 300);
  });
})();
