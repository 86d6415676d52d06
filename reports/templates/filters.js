// The filters of a report page (templates/filters.html.j2): every element of class "item" carries
// data-severity, data-status, data-patient, data-drugs, data-prescribers and data-pharmacies; an item is
// shown when it matches every filter that is set. Severity and status match exactly; prescriber, pharmacy
// and drug match any id or name containing the text; patient matches ids containing the text (letter case
// ignored). The filters are kept in the address as #filter:name=value&... (so a view can be bookmarked,
// sent or reloaded) and read from it on load. No network, no library: it runs from the file itself.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) {
    return;
  }
  var FIELDS = ["severity", "status", "prescriber", "pharmacy", "drug", "patient"];
  var PREFIX = "#filter:";
  var items = Array.prototype.slice.call(document.querySelectorAll(".item[data-severity]"));
  var count = document.getElementById("filter-count");
  var what = (count && count.getAttribute("data-what")) || "items";

  function wanted() {
    var want = {};
    FIELDS.forEach(function (name) {
      var field = form.elements[name];
      want[name] = field ? String(field.value).trim().toLowerCase() : "";
    });
    return want;
  }

  function anyContains(list, text) {
    if (!text) {
      return true;
    }
    return String(list || "")
      .toLowerCase()
      .split(/\s+/)
      .some(function (word) {
        return word && word.indexOf(text) !== -1;
      });
  }

  function matches(item, want) {
    var data = item.dataset;
    return (
      (!want.severity || data.severity === want.severity) &&
      (!want.status || data.status === want.status) &&
      anyContains(data.prescribers, want.prescriber) &&
      anyContains(data.pharmacies, want.pharmacy) &&
      anyContains(data.drugs, want.drug.replace(/\s+/g, "_")) &&
      (!want.patient || String(data.patient || "").toLowerCase().indexOf(want.patient) !== -1)
    );
  }

  function apply() {
    var want = wanted();
    var shown = 0;
    items.forEach(function (item) {
      var ok = matches(item, want);
      item.hidden = !ok;
      if (ok) {
        shown += 1;
      }
    });
    var active = FIELDS.some(function (name) {
      return want[name];
    });
    document.body.setAttribute("data-filtered", active ? "yes" : "no");
    document.body.setAttribute("data-shown", String(shown));
    if (count) {
      count.textContent = active
        ? "showing " + shown + " of " + items.length + " " + what
        : items.length + " " + what;
    }
    return want;
  }

  function remember(want) {
    var parts = FIELDS.filter(function (name) {
      return want[name];
    }).map(function (name) {
      return encodeURIComponent(name) + "=" + encodeURIComponent(want[name]);
    });
    var hash = parts.length ? PREFIX + parts.join("&") : "";
    try {
      history.replaceState(null, "", hash || location.pathname + location.search);
    } catch (error) {
      // a page opened where the address cannot change: the filters still apply
    }
  }

  function fromAddress() {
    var hash = location.hash;
    if (hash.indexOf(PREFIX) !== 0) {
      return false;
    }
    var given = {};
    hash
      .slice(PREFIX.length)
      .split("&")
      .forEach(function (part) {
        var pair = part.split("=");
        if (pair.length === 2) {
          given[decodeURIComponent(pair[0])] = decodeURIComponent(pair[1]);
        }
      });
    FIELDS.forEach(function (name) {
      if (form.elements[name]) {
        form.elements[name].value = given[name] || "";
      }
    });
    apply();
    return true;
  }

  function changed() {
    remember(apply());
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("reset", function () {
    window.setTimeout(changed, 0);
  });
  window.addEventListener("hashchange", fromAddress);
  if (!fromAddress()) {
    apply();
  }
})();
