/**
 * A small JSON Schema interpreter for the subset config.json's schema uses (type, enum,
 * const, pattern, minLength, minimum, maximum, minItems, required, properties,
 * additionalProperties, items). Loading ajv and compiling the schema cost every command
 * about 150 ms at start-up; this costs nothing measurable.
 */
export interface SchemaNode {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  enum?: readonly unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  required?: readonly string[];
  properties?: Readonly<Record<string, SchemaNode>>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
}

/** Every violation, as "path: problem" (empty when the value fits). */
export function validateSchema(value: unknown, schema: SchemaNode, path = ''): string[] {
  const at = path || '(top level)';
  const errors: string[] = [];
  const typeOk = (() => {
    switch (schema.type) {
      case undefined: return true;
      case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
      case 'array': return Array.isArray(value);
      case 'integer': return Number.isInteger(value);
      case 'number': return typeof value === 'number' && Number.isFinite(value);
      default: return typeof value === schema.type;
    }
  })();
  if (!typeOk) return [`${at} must be ${schema.type === 'integer' ? 'a whole number' : `a${schema.type === 'object' || schema.type === 'array' ? 'n' : ''} ${schema.type}`}`];
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at} must be one of ${schema.enum.join(', ')}`);
  if (schema.const !== undefined && value !== schema.const) errors.push(`${at} must be ${JSON.stringify(schema.const)}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at} must not be empty`);
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at} has an invalid format`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at} must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at} must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at} needs at least ${schema.minItems} item(s)`);
    if (schema.items) value.forEach((item, i) => errors.push(...validateSchema(item, schema.items!, `${path}[${i}]`)));
  }
  if (schema.type === 'object' && typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) errors.push(`${path ? `${path}.` : ''}${key} is missing`);
    for (const [key, item] of Object.entries(record)) {
      const child = `${path ? `${path}.` : ''}${key}`;
      const known = schema.properties?.[key];
      if (known) errors.push(...validateSchema(item, known, child));
      else if (schema.additionalProperties === false) errors.push(`${child} is not a known setting`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validateSchema(item, schema.additionalProperties, child));
    }
  }
  return errors;
}
