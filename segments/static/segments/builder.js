/* Segment builder: edits a segment's rule tree with pickers and writes its JSON into the
 * form's textarea (the stored value). Condition kinds, operators and value forms are read
 * from the rule schema (segments.rules.schema); the lists of traits, event types,
 * purposes, segments and models come from the server's vocabulary. A debounced preview
 * shows the size and a masked sample; problems are shown next to their condition by
 * their JSON path. */
(function () {
  "use strict";

  var INPUT = "sb-input border border-base-200 bg-white rounded-default shadow-xs text-sm " +
    "px-3 py-2 dark:bg-base-900 dark:border-base-700";
  var GROUPS = ["all", "any"];
  var PREVIEW_DELAY_MS = 500;
  var FIELD_NAMES = {};  // data-field -> accessible name, from the server's labels

  function named(attrs) {
    var field = attrs && attrs["data-field"];
    if (field && !attrs["aria-label"]) {
      var name = FIELD_NAMES[field.replace(/-\d+$/, "")] || FIELD_NAMES[field.split("-")[0]];
      if (name) attrs["aria-label"] = name;
    }
    return attrs;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key.indexOf("on") === 0) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function select(options, value, onChange, attrs) {
    var node = el("select", named(Object.assign({ "class": INPUT }, attrs || {})));
    var known = options.some(function (option) { return String(option.value) === String(value); });
    if (!known && value !== undefined && value !== null && value !== "") {
      options = options.concat([{ value: value, label: String(value) }]);
    }
    options.forEach(function (option) {
      var item = el("option", { value: option.value, text: option.label });
      if (String(option.value) === String(value)) item.selected = true;
      node.appendChild(item);
    });
    node.addEventListener("change", function () { onChange(node.value); });
    return node;
  }

  function input(type, value, onInput, attrs) {
    var node = el("input", named(Object.assign({ type: type, "class": INPUT }, attrs || {})));
    node.value = value === undefined || value === null ? "" : value;
    node.addEventListener("input", function () { onInput(node.value); });
    return node;
  }

  function kindOf(node) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return null;
    var keys = ["all", "any", "not", "attribute", "trait", "event", "consent", "segment", "model"];
    for (var i = 0; i < keys.length; i++) if (keys[i] in node) return keys[i];
    return null;
  }

  /* JSON path of a key list, as segments.rules.walk.json_path writes it. */
  function jsonPath(parts) {
    return parts.reduce(function (out, part) {
      if (typeof part === "number") return out + "[" + part + "]";
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) return out + "." + part;
      return out + "['" + part + "']";
    }, "$");
  }

  /* ---- What the schema says ------------------------------------------------------ */

  function valueShapes(def) {
    var shapes = {};
    (def.allOf || []).forEach(function (rule) {
      var ops = rule["if"].properties.op["enum"];
      var shape = rule.then.not ? null : rule.then.properties.value;
      ops.forEach(function (op) { shapes[op] = shape; });
    });
    return shapes;
  }

  function readSchema(schema) {
    var defs = schema.$defs;
    var kinds = defs.unknown.oneOf.map(function (branch) { return branch.required[0]; });
    var comparator = defs.comparator.properties;
    var eventProps = defs.event.properties;
    return {
      leaves: kinds.filter(function (k) { return GROUPS.indexOf(k) < 0 && k !== "not"; }),
      attribute: { ops: defs.attribute.properties.op["enum"], shapes: valueShapes(defs.attribute) },
      trait: { ops: defs.trait.properties.op["enum"], shapes: valueShapes(defs.trait) },
      property: { ops: defs.property.properties.op["enum"], shapes: valueShapes(defs.property) },
      comparatorOps: Object.keys(comparator),
      comparatorShapes: comparator,
      aggregates: Object.keys(eventProps).filter(function (key) {
        return eventProps[key].$ref === "#/$defs/comparator";
      }),
      windows: ["within_days", "between"].filter(function (key) { return key in eventProps; })
    };
  }

  function isDate(shape) { return shape && shape.pattern && shape.pattern.indexOf("[0-9]{4}") >= 0; }

  function itemType(shape) {
    var type = shape.type;
    if (Array.isArray(type)) return type.indexOf("number") >= 0 && type.indexOf("string") < 0 ? "number" : "string";
    if (type === "integer" || type === "number") return "number";
    return isDate(shape) ? "date" : "string";
  }

  function toValue(text, kind) {
    if (text === "") return undefined;
    if (kind === "number") {
      var number = Number(text);
      return isNaN(number) ? text : number;
    }
    return text;
  }

  /* ---- The builder --------------------------------------------------------------- */

  function Builder(root) {
    this.root = root;
    this.textarea = root.querySelector("textarea");
    this.treeBox = root.querySelector("[data-tree]");
    this.jsonPanel = root.querySelector("[data-json-panel]");
    this.jsonError = root.querySelector("[data-json-error]");
    this.jsonProblems = root.querySelector("[data-json-problems]");
    this.errorsTop = root.querySelector("[data-errors-top]");
    this.toggle = root.querySelector("[data-action=toggle-json]");
    this.schema = readSchema(JSON.parse(document.getElementById(root.dataset.schemaId).textContent));
    this.vocab = JSON.parse(document.getElementById(root.dataset.vocabularyId).textContent);
    this.L = this.vocab.labels;
    FIELD_NAMES = this.L.fields || {};
    this.previewUrl = root.dataset.previewUrl;
    this.errors = JSON.parse(root.dataset.errors || "[]");
    this.seq = 0;
    this.timer = null;
    var form = root.closest("form");
    this.csrf = form ? form.querySelector("[name=csrfmiddlewaretoken]") : null;
    this.slugInput = form ? form.querySelector("[name=slug]") : null;
    var self = this;
    this.toggle.addEventListener("click", function () { self.setJsonMode(!self.jsonMode); });
    this.textarea.addEventListener("input", function () { self.jsonEdited(); });
    this.tree = this.parse(this.textarea.value);
    if (this.tree === undefined) {
      this.tree = { all: [] };
      this.setJsonMode(true);
      this.jsonEdited();
    } else {
      this.setJsonMode(false);
      this.write();
      this.render();
      this.schedulePreview(0);
    }
  }

  Builder.prototype.parse = function (text) {
    if (!text || !text.trim()) return { all: [] };
    try { return JSON.parse(text); } catch (e) { return undefined; }
  };

  Builder.prototype.ui = function (key) { return this.L.ui[key] || key; };
  Builder.prototype.op = function (key) { return this.L.ops[key] || key; };

  Builder.prototype.setJsonMode = function (on) {
    if (!on && this.jsonMode) {
      var parsed = this.parse(this.textarea.value);
      if (parsed === undefined) {
        this.jsonError.textContent = this.ui("json_invalid");
        this.jsonError.hidden = false;
        return;
      }
      this.tree = parsed;
      this.render();
    }
    this.jsonMode = on;
    this.jsonPanel.hidden = !on;
    this.treeBox.hidden = on;
    this.toggle.textContent = on ? this.ui("builder_view") : this.ui("json_view");
    this.toggle.setAttribute("aria-pressed", on ? "true" : "false");
    this.showErrors();
  };

  Builder.prototype.jsonEdited = function () {
    var parsed = this.parse(this.textarea.value);
    this.jsonError.hidden = parsed !== undefined;
    if (parsed === undefined) {
      this.jsonError.textContent = this.ui("json_invalid");
      return;
    }
    this.tree = parsed;
    this.schedulePreview();
  };

  /* The tree changed: write the JSON, re-draw when the shape of the form changed. */
  Builder.prototype.changed = function (redraw) {
    this.write();
    if (redraw) this.render();
    this.schedulePreview();
  };

  Builder.prototype.write = function () {
    this.textarea.value = JSON.stringify(this.tree, null, 2);
  };

  Builder.prototype.render = function () {
    var self = this;
    this.treeBox.innerHTML = "";
    this.nodes = [];
    this.treeBox.appendChild(this.renderNode(this.tree, [], function (next) {
      self.tree = next === undefined ? { all: [] } : next;
    }, true));
    this.showErrors();
  };

  /* replace(next): put `next` where this node is (undefined removes it). negation: the
   * "not" around this node ({replace, path}), shown as the node's checked NOT box. */
  Builder.prototype.renderNode = function (node, path, replace, isRoot, negation) {
    var self = this;
    var kind = kindOf(node);
    if (kind === "not" && !negation) {
      return this.renderNode(node.not, path.concat("not"), function (next) {
        if (next === undefined) replace(undefined); else node.not = next;
      }, isRoot, { replace: replace, path: path });
    }
    var box = el("div", { "class": "sb-node sb-" + (kind || "unknown"), "data-path": jsonPath(path),
      "data-kind": kind || "" });
    var head = el("div", { "class": "sb-head" });
    box.appendChild(head);
    var outer = negation ? negation.replace : replace;
    var notBox = el("label", { "class": "sb-not" }, [
      el("input", { type: "checkbox", checked: !!negation, "data-field": "not",
        onchange: function (event) {
          outer(event.target.checked ? { not: node } : node);
          self.changed(true);
        } }),
      " " + this.ui("exclude")
    ]);
    var drawn = false;
    try {
      if (GROUPS.indexOf(kind) >= 0 && Array.isArray(node[kind])) {
        this.renderGroup(box, head, node, kind, path);
        drawn = true;
      } else if (kind && kind !== "not" && this["render_" + kind]) {
        var body = el("div", { "class": "sb-body" });
        this["render_" + kind](body, node);
        head.appendChild(el("span", { "class": "sb-kind", text: this.L.kinds[kind] || kind }));
        head.appendChild(body);
        drawn = true;
        if (isRoot) {
          head.appendChild(el("button", { type: "button", "class": "sb-link", text: this.ui("wrap"),
            "data-action": "wrap",
            onclick: function () { self.tree = { all: [self.tree] }; self.changed(true); } }));
        }
      }
    } catch (e) {
      drawn = false;
    }
    if (!drawn) {
      head.innerHTML = "";
      head.appendChild(el("code", { "class": "sb-raw", text: JSON.stringify(node) }));
    }
    head.appendChild(notBox);
    if (!isRoot) {
      head.appendChild(el("button", { type: "button", "class": "sb-remove", title: this.ui("remove"),
        "aria-label": this.ui("remove"), text: "×", "data-action": "remove",
        onclick: function () { outer(undefined); self.changed(true); } }));
    }
    box.appendChild(el("ul", { "class": "sb-problems", "data-problems": "" }));
    this.nodes.push({ path: jsonPath(path), box: box });
    if (negation) this.nodes.push({ path: jsonPath(negation.path), box: box });
    return box;
  };

  Builder.prototype.renderGroup = function (box, head, node, kind, path) {
    var self = this;
    head.appendChild(select(GROUPS.map(function (g) {
      return { value: g, label: self.L.kinds[g] };
    }), kind, function (value) {
      var children = node[kind];
      delete node[kind];
      node[value] = children;
      self.changed(true);
    }, { "data-field": "group" }));
    var list = el("div", { "class": "sb-children" });
    var children = node[kind];
    if (!children.length) {
      list.appendChild(el("p", { "class": "sb-empty", text: this.ui(kind === "all" ? "empty_all" : "empty_any") }));
    }
    children.forEach(function (child, index) {
      list.appendChild(self.renderNode(child, path.concat(kind, index), function (next) {
        if (next === undefined) children.splice(index, 1); else children[index] = next;
      }, false));
    });
    box.appendChild(list);
    var adder = select([{ value: "", label: "+ " + this.ui("add_condition") }].concat(
      this.schema.leaves.map(function (leaf) {
        return { value: leaf, label: self.L.kinds[leaf] || leaf };
      })), "", function (value) {
      if (!value) return;
      children.push(self.newCondition(value));
      self.changed(true);
    }, { "data-action": "add-condition", "aria-label": this.ui("add_condition") });
    var groupButton = el("button", { type: "button", "class": "sb-button", "data-action": "add-group",
      text: "+ " + this.ui("add_group"),
      onclick: function () { children.push({ any: [] }); self.changed(true); } });
    box.appendChild(el("div", { "class": "sb-adders" }, [adder, groupButton]));
  };

  Builder.prototype.newCondition = function (kind) {
    var v = this.vocab;
    var first = function (list) { return list.length ? list[0].value : ""; };
    switch (kind) {
      case "attribute": return { attribute: first(v.attributes), op: "eq" };
      case "trait": return { trait: first(v.traits), op: "gte" };
      case "event": {
        var type = v.event_types.indexOf("purchase") >= 0 ? "purchase" : v.event_types[0];
        return { event: type || "", count: { gte: 1 }, within_days: 30 };
      }
      case "consent": return { consent: first(v.purposes) };
      case "segment": return { segment: first(v.segments) };
      case "model": {
        var model = v.models[0];
        if (model && !model.predictive) return { model: model.value, cluster: 0 };
        return { model: model ? model.value : "", score: { gte: 0.5 } };
      }
      default: { var node = {}; node[kind] = ""; return node; }
    }
  };

  /* ---- Value inputs -------------------------------------------------------------- */

  /* The input(s) for a value of this schema shape; kind overrides the item type. */
  Builder.prototype.valueInput = function (shape, value, set, kind) {
    var self = this;
    if (shape === null || shape === undefined) return null;
    if (shape.type === "array" && shape.prefixItems) {
      var pair = Array.isArray(value) ? value.slice() : [undefined, undefined];
      var type = kind || itemType(shape.prefixItems[0]);
      var one = function (index) {
        return self.scalarInput(type, pair[index], function (v) { pair[index] = v; set(pair.slice()); },
          { "data-field": "value-" + index });
      };
      return el("span", { "class": "sb-pair" }, [one(0), " " + this.ui("and") + " ", one(1)]);
    }
    if (shape.type === "array") {
      var list = Array.isArray(value) ? value.join(", ") : "";
      var itemKind = kind || itemType(shape.items);
      return input("text", list, function (text) {
        var items = text.split(",").map(function (s) { return s.trim(); })
          .filter(function (s) { return s; }).map(function (s) { return toValue(s, itemKind); });
        set(items.length ? items : undefined);
      }, { placeholder: this.ui("values_hint"), "data-field": "value" });
    }
    return this.scalarInput(kind || itemType(shape), value, set, { "data-field": "value",
      step: shape.type === "integer" ? "1" : "any", min: shape.minimum });
  };

  Builder.prototype.scalarInput = function (type, value, set, attrs) {
    var htmlType = type === "number" || type === "days" ? "number" : type === "date" ? "date" : "text";
    var kind = htmlType === "number" ? "number" : "string";
    var extra = Object.assign({ step: "any" }, attrs || {});
    if (htmlType !== "number") { delete extra.step; delete extra.min; }
    return input(htmlType, value, function (text) { set(toValue(text, kind)); }, extra);
  };

  function setValue(node, value) {
    if (value === undefined) delete node.value; else node.value = value;
  }

  /* op picker + value input, the value dropped when its form changes with the op. */
  Builder.prototype.opAndValue = function (body, node, grammar, ops, kind) {
    var self = this;
    body.appendChild(select(ops.map(function (op) { return { value: op, label: self.op(op) }; }),
      node.op, function (op) {
        var before = JSON.stringify(grammar.shapes[node.op]);
        node.op = op;
        if (JSON.stringify(grammar.shapes[op]) !== before) delete node.value;
        self.changed(true);
      }, { "data-field": "op" }));
    var valueBox = this.valueInput(grammar.shapes[node.op], node.value, function (value) {
      setValue(node, value);
      self.changed(false);
    }, kind);
    if (valueBox) body.appendChild(valueBox);
  };

  /* ---- One renderer per condition kind ------------------------------------------- */

  Builder.prototype.render_attribute = function (body, node) {
    var self = this;
    var v = this.vocab;
    var prefix = v.attribute_prefix;
    var custom = node.attribute.indexOf(prefix) === 0;
    var options = v.attributes.concat([{ value: "__custom__", label: this.ui("custom_attribute") }]);
    body.appendChild(select(options, custom ? "__custom__" : node.attribute, function (value) {
      node.attribute = value === "__custom__" ? prefix : value;
      if (value !== "__custom__" && v.text_ops.indexOf(node.op) < 0) { node.op = "eq"; delete node.value; }
      self.changed(true);
    }, { "data-field": "attribute" }));
    if (custom) {
      body.appendChild(input("text", node.attribute.slice(prefix.length), function (text) {
        node.attribute = prefix + text.trim();
        self.changed(false);
      }, { placeholder: this.ui("custom_key"), "data-field": "attribute-key" }));
    }
    var ops = custom ? this.schema.attribute.ops : this.schema.attribute.ops.filter(function (op) {
      return v.text_ops.indexOf(op) >= 0;
    });
    this.opAndValue(body, node, this.schema.attribute, ops, custom ? null : "string");
  };

  Builder.prototype.render_trait = function (body, node) {
    var self = this;
    var trait = this.vocab.traits.filter(function (t) { return t.value === node.trait; })[0];
    body.appendChild(select(this.vocab.traits, node.trait, function (value) {
      var kindBefore = trait && trait.kind;
      node.trait = value;
      var now = self.vocab.traits.filter(function (t) { return t.value === value; })[0];
      if (!now || now.kind !== kindBefore) delete node.value;
      self.changed(true);
    }, { "data-field": "trait" }));
    var kind = trait ? { number: "number", days: "number", datetime: "date" }[trait.kind] : null;
    this.opAndValue(body, node, this.schema.trait, this.schema.trait.ops, kind);
  };

  /* {"gte": 3} as an operator picker and a value (or a pair for between). A missing value
   * is kept as null so the chosen operator survives until the value is typed. */
  Builder.prototype.comparator = function (body, holder, key, field) {
    var self = this;
    var current = holder[key] && typeof holder[key] === "object" ? holder[key] : {};
    var op = Object.keys(current)[0] || "gte";
    var value = current[op];
    body.appendChild(select(this.schema.comparatorOps.map(function (o) {
      return { value: o, label: self.op(o) };
    }), op, function (next) {
      var pairNow = Array.isArray(value);
      var pairNext = self.schema.comparatorShapes[next].type === "array";
      var kept = value === undefined ? null : value;
      if (pairNext && !pairNow) kept = [kept, kept];
      if (!pairNext && pairNow) kept = value[0];
      holder[key] = {};
      holder[key][next] = kept;
      self.changed(true);
    }, { "data-field": field + "-op" }));
    body.appendChild(this.valueInput(this.schema.comparatorShapes[op], value, function (typed) {
      holder[key] = {};
      holder[key][op] = typed === undefined ? null : typed;
      self.changed(false);
    }, "number"));
  };

  Builder.prototype.render_event = function (body, node) {
    var self = this;
    var types = this.vocab.event_types;
    var known = typeof node.event === "string" && node.event !== "" && types.indexOf(node.event) >= 0;
    body.appendChild(select(types.map(function (t) { return { value: t, label: t }; }).concat(
      [{ value: "__other__", label: this.ui("other_event") }]), known ? node.event : "__other__",
    function (value) {
      node.event = value === "__other__" ? "" : value;
      self.changed(true);
    }, { "data-field": "event" }));
    if (!known) {
      body.appendChild(input("text", node.event, function (text) {
        node.event = text.trim().toLowerCase();
        self.changed(false);
      }, { placeholder: this.ui("event_type"), "data-field": "event-type" }));
    }
    var aggregate = this.schema.aggregates.filter(function (a) { return a in node; })[0] || "count";
    body.appendChild(select(this.schema.aggregates.map(function (a) {
      return { value: a, label: self.L.aggregates[a] || a };
    }), aggregate, function (value) {
      node[value] = node[aggregate] || { gte: null };
      if (value !== aggregate) delete node[aggregate];
      self.changed(true);
    }, { "data-field": "aggregate" }));
    this.comparator(body, node, aggregate, "aggregate");
    this.eventWindow(body, node);
    this.eventWhere(body, node);
  };

  Builder.prototype.eventWindow = function (body, node) {
    var self = this;
    var current = "within_days" in node ? "within_days" : "between" in node ? "between" : "";
    var labels = { "": this.ui("any_time"), within_days: this.ui("within_days"), between: this.ui("between_dates") };
    body.appendChild(select([""].concat(this.schema.windows).map(function (w) {
      return { value: w, label: labels[w] };
    }), current, function (value) {
      delete node.within_days;
      delete node.between;
      if (value === "within_days") node.within_days = 30;
      if (value === "between") node.between = [];
      self.changed(true);
    }, { "data-field": "window" }));
    if (current === "within_days") {
      body.appendChild(this.scalarInput("number", node.within_days, function (value) {
        if (value === undefined) delete node.within_days; else node.within_days = value;
        self.changed(false);
      }, { "data-field": "within_days", step: "1", min: "1" }));
      body.appendChild(el("span", { "class": "sb-unit", text: this.ui("days") }));
    } else if (current === "between") {
      body.appendChild(this.valueInput({ type: "array", prefixItems: [{}, {}] }, node.between, function (pair) {
        node.between = pair;
        self.changed(false);
      }, "date"));
    }
  };

  Builder.prototype.eventWhere = function (body, node) {
    var self = this;
    var filters = node.where || [];
    var box = el("div", { "class": "sb-where" });
    filters.forEach(function (filter, index) {
      var row = el("div", { "class": "sb-where-row" });
      row.appendChild(input("text", filter.property, function (text) {
        filter.property = text.trim();
        self.changed(false);
      }, { placeholder: self.ui("property"), "data-field": "property" }));
      self.opAndValue(row, filter, self.schema.property, self.schema.property.ops, null);
      row.appendChild(el("button", { type: "button", "class": "sb-remove", text: "×", "aria-label": self.ui("remove"),
        onclick: function () {
          filters.splice(index, 1);
          if (!filters.length) delete node.where;
          self.changed(true);
        } }));
      box.appendChild(row);
    });
    box.appendChild(el("button", { type: "button", "class": "sb-link", "data-action": "add-where",
      text: "+ " + this.ui("where"),
      onclick: function () {
        node.where = filters.concat([{ property: "", op: "eq", value: "" }]);
        self.changed(true);
      } }));
    body.appendChild(box);
  };

  Builder.prototype.pickFrom = function (body, node, key, options, field) {
    var self = this;
    var list = options.slice();
    if (!list.some(function (o) { return String(o.value) === String(node[key]); }) && node[key] !== "") {
      list.push({ value: node[key], label: String(node[key]) });
    }
    if (!list.length) {
      body.appendChild(el("span", { "class": "sb-unit", text: this.ui("none_available") }));
      return;
    }
    body.appendChild(select(list, node[key], function (value) {
      node[key] = value;
      self.changed(true);
    }, { "data-field": field }));
  };

  Builder.prototype.render_consent = function (body, node) {
    body.appendChild(el("span", { "class": "sb-unit", text: this.ui("granted") }));
    this.pickFrom(body, node, "consent", this.vocab.purposes, "consent");
  };

  Builder.prototype.render_segment = function (body, node) {
    body.appendChild(el("span", { "class": "sb-unit", text: this.ui("member_of") }));
    this.pickFrom(body, node, "segment", this.vocab.segments, "segment");
  };

  Builder.prototype.render_model = function (body, node) {
    var self = this;
    var models = this.vocab.models;
    var find = function (slug) { return models.filter(function (m) { return m.value === slug; })[0]; };
    body.appendChild(select(models, node.model, function (slug) {
      var picked = find(slug);
      node.model = slug;
      if (picked && !picked.predictive && !("cluster" in node)) { delete node.score; node.cluster = 0; }
      if (picked && picked.predictive && !("score" in node)) { delete node.cluster; node.score = { gte: 0.5 }; }
      self.changed(true);
    }, { "data-field": "model" }));
    var model = find(node.model);
    if ("cluster" in node) {
      body.appendChild(el("span", { "class": "sb-unit", text: this.ui("cluster") }));
      var clusters = model && model.clusters.length ? model.clusters : [];
      body.appendChild(select(clusters, node.cluster, function (value) {
        node.cluster = Number(value);
        self.changed(false);
      }, { "data-field": "cluster" }));
    } else {
      body.appendChild(el("span", { "class": "sb-unit", text: this.ui("score") }));
      this.comparator(body, node, "score", "score");
    }
  };

  /* ---- Problems and preview ------------------------------------------------------ */

  /* Each problem goes to the condition with the longest path that contains it. */
  Builder.prototype.showErrors = function () {
    var self = this;
    (this.nodes || []).forEach(function (n) {
      n.box.classList.remove("sb-has-error");
      n.box.querySelector("[data-problems]").innerHTML = "";
    });
    this.errorsTop.innerHTML = "";
    this.jsonProblems.innerHTML = "";
    var unplaced = [];
    this.errors.forEach(function (error) {
      self.jsonProblems.appendChild(el("li", { text: error.path + ": " + error.message }));
      var best = null;
      (self.nodes || []).forEach(function (n) {
        var rest = error.path.slice(n.path.length);
        var inside = error.path.indexOf(n.path) === 0 && (rest === "" || rest[0] === "." || rest[0] === "[");
        if (inside && (!best || n.path.length > best.path.length)) best = n;
      });
      if (!best || self.jsonMode) { unplaced.push(error); return; }
      best.box.classList.add("sb-has-error");
      var field = error.path.slice(best.path.length).replace(/^\./, "");
      best.box.querySelector("[data-problems]").appendChild(el("li", {
        "data-error-path": error.path, text: (field ? field + ": " : "") + error.message }));
    });
    this.errorsTop.hidden = !unplaced.length || this.jsonMode;
    if (!this.jsonMode) {
      unplaced.forEach(function (error) {
        self.errorsTop.appendChild(el("p", { text: error.path + ": " + error.message }));
      });
    }
  };

  Builder.prototype.schedulePreview = function (delay) {
    var self = this;
    clearTimeout(this.timer);
    this.seq++;  // an answer to an older draft is now stale
    this.root.dataset.previewState = "pending";
    this.root.querySelector("[data-preview-status]").textContent = this.ui("computing");
    this.timer = setTimeout(function () { self.preview(); }, delay === undefined ? PREVIEW_DELAY_MS : delay);
  };

  Builder.prototype.preview = function () {
    var self = this;
    var seq = ++this.seq;
    var status = this.root.querySelector("[data-preview-status]");
    status.textContent = this.ui("computing");
    this.root.dataset.previewState = "loading";
    fetch(this.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf ? this.csrf.value : "" },
      body: JSON.stringify({ definition: this.tree, slug: this.slugInput ? this.slugInput.value : "" })
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (data) {
      if (seq !== self.seq) return;
      self.errors = data.errors || [];
      self.showErrors();
      self.showPreview(data);
    })["catch"](function () {
      if (seq !== self.seq) return;
      status.textContent = self.ui("preview_failed");
      self.root.dataset.previewState = "failed";
    });
  };

  Builder.prototype.showPreview = function (data) {
    var count = this.root.querySelector("[data-count]");
    var status = this.root.querySelector("[data-preview-status]");
    var sample = this.root.querySelector("[data-sample]");
    sample.innerHTML = "";
    if (data.errors && data.errors.length) {
      count.textContent = "—";
      status.textContent = this.ui("fix_errors");
      this.root.dataset.previewState = "invalid";
      return;
    }
    count.textContent = Number(data.count).toLocaleString();
    count.dataset.value = String(data.count);
    status.textContent = data.count ? this.ui("sample") : this.ui("no_sample");
    this.root.dataset.previewState = "done";
    if (!data.sample || !data.sample.length) return;
    var rows = data.sample.map(function (item) {
      return el("tr", {}, [
        el("td", { "class": "sb-mono", title: item.profile_id, text: item.profile_id.slice(0, 8) }),
        el("td", { text: item.email || "—" }),
        el("td", { text: item.city || "—" })
      ]);
    });
    sample.appendChild(el("table", { "class": "sb-sample" }, [
      el("thead", {}, [el("tr", {}, [el("th", { text: this.ui("profile") }), el("th", { text: this.ui("email") }),
        el("th", { text: this.ui("city") })])]),
      el("tbody", {}, rows)
    ]));
  };

  /* ---- Schedule picker ----------------------------------------------------------- */

  function schedulePicker(root) {
    var preset = root.querySelector("[data-schedule-preset]");
    var cron = root.querySelector("input");
    function sync() {
      var custom = preset.value === "__custom__";
      cron.hidden = !custom;
      if (!custom) cron.value = preset.value;
    }
    preset.addEventListener("change", sync);
    cron.hidden = preset.value !== "__custom__";
  }

  function start() {
    document.querySelectorAll("[data-segment-builder]").forEach(function (root) {
      if (!root.builder) root.builder = new Builder(root);
    });
    document.querySelectorAll("[data-schedule-picker]").forEach(function (root) {
      if (!root.dataset.ready) { root.dataset.ready = "1"; schedulePicker(root); }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
