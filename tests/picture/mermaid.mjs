// Parses a Mermaid diagram with Mermaid's own parser (the grammar GitHub's renderer uses) and
// prints what it read as JSON: {"vertices": {id: text}, "edges": [[from, to, stroke]],
// "subgraphs": [[id, title, [node ids]]], "classes": {id: [class]}}; or "error: …" and exit 1.
// Node has no DOM, which Mermaid's sanitizer needs: jsdom stands in for the browser's.
// Usage: GEN_MERMAID_MODULES=/var/cache/gen-mermaid/node_modules node mermaid.mjs FILE
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const modules = process.env.GEN_MERMAID_MODULES;
const require = createRequire(modules + '/');
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import(
  pathToFileURL(modules + '/mermaid/dist/mermaid.core.mjs').href
);
mermaid.initialize({ startOnLoad: false });
const text = readFileSync(process.argv[2], 'utf8');
try {
  await mermaid.parse(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db;
  const vertices = {};
  const classes = {};
  for (const [id, v] of db.getVertices()) {
    vertices[id] = v.text;
    classes[id] = v.classes;
  }
  const edges = db.getEdges().map((e) => [e.start, e.end, e.stroke]);
  const subgraphs = db.getSubGraphs().map((s) => [s.id, s.title, s.nodes]);
  console.log(JSON.stringify({ type: diagram.type, vertices, edges, subgraphs, classes }));
} catch (e) {
  console.log('error: ' + e.message);
  process.exit(1);
}
