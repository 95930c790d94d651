/* Formset rows (co-developers, holders): without JavaScript the page works with its blank rows and a
   "recalculate" submit button; with it, an "add a row" button copies the row <template> and the no-JS
   button goes away (the live total comes from htmx).
   <button type="button" data-formset-add="PREFIX" data-rows="#tbody" data-template="#template"
           data-nojs="#recalculate" hidden> */
(function () {
  document.querySelectorAll("[data-formset-add]").forEach(function (button) {
    var prefix = button.getAttribute("data-formset-add");
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var max = document.getElementById("id_" + prefix + "-MAX_NUM_FORMS");
    var template = document.querySelector(button.getAttribute("data-template"));
    var rows = document.querySelector(button.getAttribute("data-rows"));
    if (!total || !max || !template || !rows) { return; }
    button.hidden = false;
    var nojs = button.getAttribute("data-nojs");
    if (nojs) { document.querySelectorAll(nojs).forEach(function (el) { el.remove(); }); }
    button.disabled = parseInt(total.value, 10) >= parseInt(max.value, 10);
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      if (index >= parseInt(max.value, 10)) { button.disabled = true; return; }
      var html = template.innerHTML.replace(/__prefix__/g, index).replace(/__number__/g, index + 1);
      rows.insertAdjacentHTML("beforeend", html);
      total.value = index + 1;
      button.disabled = index + 1 >= parseInt(max.value, 10);
      var field = rows.lastElementChild.querySelector("input, select");
      if (field) { field.focus(); }
    });
  });
})();
