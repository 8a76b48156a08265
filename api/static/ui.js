/* Itinera UI: small progressive enhancements; every page works without this file. */
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  /* Times are rendered in UTC; show them in the reader's own time zone, keeping UTC in the tooltip. */
  function localizeTimes() {
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", {
        day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
        timeZoneName: "short"
      });
    } catch (e) { return; }
    document.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      el.title = el.textContent.trim();
      el.textContent = format.format(when);
    });
  }

  /* A date-time field needs a UTC offset: preselect the browser's own when none is chosen yet. */
  function defaultOffsets() {
    var minutes = -new Date().getTimezoneOffset();
    var sign = minutes < 0 ? "-" : "+";
    var abs = Math.abs(minutes);
    var offset = sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
    document.querySelectorAll("select[data-tz-default]").forEach(function (select) {
      if (select.value) { return; }
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === offset) { select.value = offset; return; }
      }
    });
  }

  /* A form whose fields depend on a choice (the outcome): show only the chosen choice's group of
     fields, and let the browser require its required ones.  A hidden group is disabled, so
     nothing typed there is submitted or validated; without this script every group is shown. */
  function choiceGroups() {
    document.querySelectorAll("form").forEach(function (form) {
      var groups = form.querySelectorAll("fieldset[data-when]");
      if (!groups.length) { return; }
      var select = form.querySelector("[name='" + groups[0].getAttribute("data-choice") + "']");
      if (!select) { return; }
      function show() {
        groups.forEach(function (group) {
          var on = group.getAttribute("data-when").split(" ").indexOf(select.value) >= 0;
          group.hidden = !on;
          group.disabled = !on;
          group.querySelectorAll("[data-required]").forEach(function (control) { control.required = on; });
        });
      }
      select.addEventListener("change", show);
      show();
    });
  }

  /* After a refused submission, move focus to the list of problems so screen readers announce it. */
  function focusErrors() {
    var summary = document.querySelector("[data-focus]");
    if (summary) { summary.focus(); }
  }

  /* The language menu: choosing a language is enough (its button stays for pages without this script). */
  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  /* A code typed in capitals (an airport): shown in capitals as it is typed (the server upper-cases too). */
  function upperCase() {
    document.querySelectorAll("input[data-upper]").forEach(function (input) {
      input.addEventListener("input", function () {
        var at = input.selectionStart;
        input.value = input.value.toUpperCase();
        input.setSelectionRange(at, at);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes();
    defaultOffsets();
    choiceGroups();
    autosubmit();
    upperCase();
    focusErrors();
  });
})();
