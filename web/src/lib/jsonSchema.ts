// As-you-type checks for the playground's JSON Schema editor: valid JSON, then the basic
// shape of a schema (the server validates it fully, draft 2020-12, before any charge).
export type SchemaCheck = { schema?: Record<string, unknown>; error?: string };

const TYPES = new Set(["object", "array", "string", "number", "integer", "boolean", "null"]);

function position(text: string, message: string): string {
  const at = /position (\d+)/.exec(message);
  if (!at) return message;
  const before = text.slice(0, Number(at[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message.replace(/ in JSON at position \d+.*$/, "")} (line ${line}, column ${column})`;
}

function shapeError(node: unknown, path: string): string | null {
  if (typeof node === "boolean") return null;
  if (!node || typeof node !== "object" || Array.isArray(node)) return `${path} must be an object`;
  const schema = node as Record<string, unknown>;
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  for (const t of types) if (typeof t !== "string" || !TYPES.has(t)) return `${path}.type: unknown type ${JSON.stringify(t)}`;
  if (schema.properties !== undefined) {
    if (!schema.properties || typeof schema.properties !== "object" || Array.isArray(schema.properties))
      return `${path}.properties must be an object`;
    for (const [name, child] of Object.entries(schema.properties)) {
      const problem = shapeError(child, `${path}.properties.${name}`);
      if (problem) return problem;
    }
  }
  if (schema.required !== undefined) {
    if (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== "string"))
      return `${path}.required must be a list of property names`;
    const known = (schema.properties ?? {}) as Record<string, unknown>;
    const missing = schema.required.find((r) => !(r in known));
    if (schema.properties && missing) return `${path}.required names "${missing}", which is not in properties`;
  }
  if (schema.items !== undefined) return shapeError(schema.items, `${path}.items`);
  return null;
}

export function checkSchema(text: string): SchemaCheck {
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${position(text, (e as Error).message)}` };
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return { error: "A schema must be a JSON object" };
  const schema = parsed as Record<string, unknown>;
  if (schema.type !== undefined && schema.type !== "object")
    return { error: 'The top-level schema must describe an object ("type": "object")' };
  const problem = shapeError(schema, "schema");
  return problem ? { error: problem } : { schema };
}

export const EXAMPLE_SCHEMA = `{
  "type": "object",
  "properties": {
    "answer": { "type": "string" },
    "confidence": { "type": "string", "enum": ["low", "medium", "high"] }
  },
  "required": ["answer"]
}`;
