// Kubernetes schema validation for rendered manifests, offline.
//
// Two layers, both from the npm packages scripts/bootstrap.sh installs into .tools/node_modules:
//  1. `new Model(obj).validate()` from kubernetes-models / @kubernetes-models/prometheus-operator:
//     types, enums, required fields (the official OpenAPI schemas, compiled).
//  2. Unknown fields. Those schemas allow additional properties, so a template typo such as
//     `readinessprobe:` would pass layer 1 and be silently dropped by the API server. We walk the
//     packages' TypeScript declarations (one interface per file, one property per line) and
//     reject any key a declaration does not list — what `kubeconform -strict` does.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export class SchemaRegistry {
  constructor(nodeModules) {
    this.nm = nodeModules;
    this.models = new Map(); // "apiVersion/kind" -> Model class | null
    this.ifaces = new Map(); // d.ts path -> {props: Map<name, typeText>, imports: Map<name, path>} | null
  }

  /** The .js module of a model, or null when no package has it. */
  modulePath(apiVersion, kind) {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    const candidates = [];
    if (group === "monitoring.coreos.com") {
      candidates.push(path.join(this.nm, "@kubernetes-models/prometheus-operator", group, version, `${kind}.js`));
    } else if (group === "") {
      candidates.push(path.join(this.nm, "kubernetes-models", version, `${kind}.js`));
    } else {
      candidates.push(path.join(this.nm, "kubernetes-models", group, version, `${kind}.js`));
    }
    return candidates.find((p) => fs.existsSync(p)) ?? null;
  }

  async model(apiVersion, kind) {
    const key = `${apiVersion}/${kind}`;
    if (!this.models.has(key)) {
      const file = this.modulePath(apiVersion, kind);
      let cls = null;
      if (file) {
        const mod = await import(pathToFileURL(file).href);
        cls = mod[kind] ?? null;
      }
      this.models.set(key, cls ? { cls, dts: file.replace(/\.js$/, ".d.ts") } : null);
    }
    return this.models.get(key);
  }

  /** Validate one object; returns a list of error strings (empty when valid). */
  async validate(obj) {
    if (!obj || typeof obj !== "object") return ["not an object"];
    const { apiVersion, kind } = obj;
    if (!apiVersion || !kind) return ["missing apiVersion or kind"];
    const m = await this.model(apiVersion, kind);
    if (!m) return [`no schema for ${apiVersion} ${kind}`];
    const errors = [];
    try {
      new m.cls(obj).validate();
    } catch (e) {
      errors.push(`schema: ${e.message.split("\n").slice(0, 6).join("; ")}`);
    }
    this.unknownFields(obj, m.dts, "", errors);
    return errors;
  }

  // ---- unknown-field walk over the TypeScript declarations -------------------------------------

  resolveImport(fromFile, spec) {
    let p;
    if (spec.startsWith(".")) p = path.resolve(path.dirname(fromFile), spec);
    else p = path.join(this.nm, spec);
    p = p.replace(/\.js$/, "");
    return `${p}.d.ts`;
  }

  iface(dtsFile) {
    if (this.ifaces.has(dtsFile)) return this.ifaces.get(dtsFile);
    let result = null;
    if (fs.existsSync(dtsFile)) {
      const text = fs.readFileSync(dtsFile, "utf8");
      const imports = new Map();
      for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";/gm)) {
        for (const name of m[1].split(",").map((s) => s.trim())) imports.set(name, this.resolveImport(dtsFile, m[2]));
      }
      const start = text.search(/^export interface \w+/m);
      if (start >= 0) {
        const body = text.slice(text.indexOf("{", start) + 1);
        const props = new Map();
        // Properties sit at 4 spaces; a type may span lines (inline `{ ... }`): track braces.
        let current = null;
        let depth = 0;
        for (const raw of body.split("\n")) {
          const line = raw.replace(/\/\*\*.*?\*\//g, "");
          if (depth === 0 && /^}/.test(line)) break;
          const m = depth === 0 ? line.match(/^ {4}"([^"]+)"\??: (.*)$/) : null;
          if (m) {
            current = m[1];
            props.set(current, m[2]);
          } else if (current && depth > 0) {
            props.set(current, props.get(current) + " " + line.trim());
          }
          for (const ch of line.replace(/"[^"]*"/g, "")) {
            if (ch === "{") depth++;
            if (ch === "}") depth--;
          }
        }
        result = { props, imports };
      }
    }
    this.ifaces.set(dtsFile, result);
    return result;
  }

  /** Resolve a property's type text to {kind: "object", dts} | {kind: "array", item} | {kind: "leaf"}. */
  typeOf(typeText, decl) {
    let t = typeText.trim().replace(/;$/, "").trim();
    t = t.replace(/\s*\|\s*null$/, "");
    const arr = t.match(/^Array<(.+)>$/);
    if (arr) return { kind: "array", item: this.typeOf(arr[1], decl) };
    if (/^[A-Za-z_]\w*$/.test(t) && decl.imports.has(t)) {
      const dts = decl.imports.get(t);
      return this.iface(dts) ? { kind: "object", dts } : { kind: "leaf" };
    }
    return { kind: "leaf" }; // primitives, literal unions, maps, inline objects, IntOrString
  }

  unknownFields(value, dtsFile, at, errors) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return;
    const decl = this.iface(dtsFile);
    if (!decl) return;
    for (const [key, v] of Object.entries(value)) {
      const here = `${at}.${key}`;
      if (!decl.props.has(key)) {
        errors.push(`unknown field ${here.slice(1)}`);
        continue;
      }
      const t = this.typeOf(decl.props.get(key), decl);
      this.walk(v, t, here, errors);
    }
  }

  walk(v, t, at, errors) {
    if (t.kind === "object") this.unknownFields(v, t.dts, at, errors);
    else if (t.kind === "array" && Array.isArray(v)) v.forEach((item, i) => this.walk(item, t.item, `${at}[${i}]`, errors));
  }
}
