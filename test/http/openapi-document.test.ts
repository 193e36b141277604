import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { sensitiveRoutes, unblockedRoutes } from '../../src/modules/detection/detection.scope.ts';
import { challengedRoutes, checkedRoutes } from '../../src/modules/threat-intel/threat-check.scope.ts';
import { errorCatalog } from '../../src/platform/errors.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import {
  type DocumentedOperation,
  documentedOperations,
  type OpenApiDocument,
  readOpenApiDocument,
  requestSchemas,
  schemaType,
} from '../helpers/openapi.ts';

/**
 * Rules over the whole /openapi.json, so a route added later that forgets a bound or a piece of
 * documentation fails here without anyone listing it. Request-side rules (issue 7 item 11) keep every
 * input bounded before it reaches PostgreSQL; document rules (item 19) keep client generators working.
 */
let app: AppInstance;
let database: TestDatabase;
let document: OpenApiDocument;
let operations: DocumentedOperation[];

before(async () => {
  database = await openTestDatabase();
  app = await buildApp({ config: loadConfig({ NODE_ENV: 'test' }), database, logger: false });
  await app.ready();
  document = await readOpenApiDocument(app);
  operations = documentedOperations(document);
});

after(async () => {
  await app.close();
  await database.close();
});

const name = ({ method, path }: DocumentedOperation) => `${method} ${path}`;

/** Every violation of the request-side rules in one operation, as readable lines. */
function inputViolations(entry: DocumentedOperation): string[] {
  const violations: string[] = [];
  for (const { schema, path, name: fieldName } of requestSchemas(document, entry.operation)) {
    const where = `${name(entry)} ${path}`;
    const type = schemaType(schema);
    const alternatives = schema.anyOf ?? schema.oneOf ?? schema.allOf;
    if (type === undefined && alternatives === undefined && schema.enum === undefined) {
      violations.push(`${where} has no type`);
      continue;
    }
    const isLiteral = schema.enum !== undefined || schema.const !== undefined;
    if (type === 'string' && !isLiteral) {
      if (schema.maxLength === undefined) violations.push(`${where} has no maxLength`);
      const isId = fieldName === 'id' || fieldName?.endsWith('_id') || fieldName?.endsWith('-id');
      if (isId && schema.pattern === undefined && schema.format === undefined)
        violations.push(`${where} is an id without a pattern or format`);
    }
    if ((type === 'integer' || type === 'number') && !isLiteral) {
      const { minimum, maximum } = schema;
      if (minimum === undefined || maximum === undefined)
        violations.push(`${where} lacks minimum or maximum`);
      else if (minimum < -Number.MAX_SAFE_INTEGER || maximum > Number.MAX_SAFE_INTEGER)
        violations.push(`${where} has bounds outside the exact integer range`);
    }
    if (type === 'array' && schema.maxItems === undefined) violations.push(`${where} has no maxItems`);
    if (type === 'object' && path.startsWith('body')) {
      const closed = schema.additionalProperties === false;
      const hasValueSchema =
        schema.patternProperties !== undefined || typeof schema.additionalProperties === 'object';
      const boundedMap = hasValueSchema && schema.maxProperties !== undefined;
      if (!closed && !boundedMap) violations.push(`${where} accepts unknown properties`);
    }
    if (path === 'querystring.limit' && (schema.maximum === undefined || schema.maximum > 100))
      violations.push(`${where} allows pages over 100`);
  }
  return violations;
}

describe('request schemas bound every input (issue 7 item 11)', () => {
  test('the document has the operations to check', () => {
    assert.ok(operations.length >= 55, `only ${operations.length} operations`);
  });

  test('every string has maxLength (ids a pattern or format), every number both bounds within the exact range, every array maxItems, every body object additionalProperties false, every page limit at most 100', () => {
    const violations = operations.flatMap(inputViolations);
    assert.deepEqual(violations, []);
  });

  test('the rules catch what they claim: a schema missing each bound is reported', () => {
    const planted: DocumentedOperation = {
      method: 'POST',
      path: '/planted',
      operation: {
        responses: {},
        parameters: [{ in: 'query', name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 500 } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  user_id: { type: 'string', maxLength: 36 },
                  note: { type: 'string' },
                  count: { type: 'integer', minimum: 0 },
                  tags: { type: 'array', items: { type: 'string', maxLength: 5 } },
                },
              },
            },
          },
        },
      },
    };
    assert.deepEqual(inputViolations(planted).sort(), [
      'POST /planted body accepts unknown properties',
      'POST /planted body.count lacks minimum or maximum',
      'POST /planted body.note has no maxLength',
      'POST /planted body.tags has no maxItems',
      'POST /planted body.user_id is an id without a pattern or format',
      'POST /planted querystring.limit allows pages over 100',
    ]);
  });
});

describe('the document serves client generators (issue 7 item 19)', () => {
  test('every operation has a unique camelCase operationId', () => {
    const ids = operations.map((entry) => entry.operation.operationId);
    for (const [index, id] of ids.entries())
      assert.match(id ?? '', /^[a-z][A-Za-z0-9]*$/, `${name(operations[index] as DocumentedOperation)}`);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are not unique');
  });

  test('every response has a real description', () => {
    const generic = operations.flatMap((entry) =>
      Object.entries(entry.operation.responses)
        .filter(([, response]) => !response.description || response.description === 'Default Response')
        .map(([status]) => `${name(entry)} ${status}`),
    );
    assert.deepEqual(generic, []);
  });

  test('every tag in use is described, and the document names its servers', () => {
    const described = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description ?? '']));
    const used = new Set(operations.flatMap((entry) => entry.operation.tags ?? []));
    assert.ok(used.size >= 5);
    for (const tag of used)
      assert.ok((described.get(tag) ?? '').length > 10, `tag ${tag} has no description`);
    assert.ok((document.servers ?? []).length > 0, 'no servers');
  });

  test('every authenticated operation documents the x-tenant-id header, optional and a uuid', () => {
    for (const entry of operations.filter((item) => (item.operation.security ?? []).length > 0)) {
      const header = entry.operation.parameters?.find(
        (parameter) => parameter.in === 'header' && parameter.name === 'x-tenant-id',
      );
      assert.ok(header, `${name(entry)} does not document x-tenant-id`);
      assert.equal(header.required, false);
      assert.equal(header.schema.format, 'uuid');
    }
  });

  test('no query parameter with a default is marked required', () => {
    const wrong = operations.flatMap((entry) =>
      (entry.operation.parameters ?? [])
        .filter((parameter) => parameter.required === true && parameter.schema.default !== undefined)
        .map((parameter) => `${name(entry)} ${parameter.in}.${parameter.name}`),
    );
    assert.deepEqual(wrong, []);
  });

  test('every operation lists the error codes it can return, each from the catalog and with its status documented', () => {
    for (const entry of operations) {
      const codes = entry.operation['x-error-codes'];
      assert.ok(Array.isArray(codes) && codes.length > 0, `${name(entry)} lists no error codes`);
      const statuses = new Set(Object.keys(entry.operation.responses));
      for (const code of codes) {
        assert.ok(code in errorCatalog, `${name(entry)} lists ${code}, which is not in the catalog`);
        const status = String(errorCatalog[code as keyof typeof errorCatalog].status);
        assert.ok(statuses.has(status), `${name(entry)} lists ${code} but documents no ${status} response`);
        const description = entry.operation.responses[status]?.description ?? '';
        assert.ok(description.includes(code), `${name(entry)} ${status} description does not name ${code}`);
      }
      for (const status of statuses) {
        if (status.startsWith('2') || status.startsWith('3')) continue;
        const named = codes.some(
          (code) => String(errorCatalog[code as keyof typeof errorCatalog].status) === status,
        );
        assert.ok(named, `${name(entry)} documents ${status} but lists no code with that status`);
      }
    }
  });
});

/** `POST /v1/transactions/transfer` as the document names it (`:id` → `{id}`). */
function documentedName(route: string): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The operations whose `status` response and x-error-codes do not both name `code`. */
function undocumented(entries: DocumentedOperation[], status: string, code: string): string[] {
  return entries
    .filter((entry) => {
      const description = entry.operation.responses[status]?.description ?? '';
      const listed = entry.operation['x-error-codes'] ?? [];
      return !description.includes(`\`${code}\``) || !listed.includes(code);
    })
    .map(name);
}

describe('the app-wide refusals and headers are documented on the routes they affect (issue 10)', () => {
  const isProbe = (entry: DocumentedOperation) => unblockedRoutes.has(entry.path);
  const isSensitive = (entry: DocumentedOperation) =>
    [...sensitiveRoutes].some((route) => documentedName(route) === name(entry));

  test('every route but the probes documents 403 REQUEST_BLOCKED (address blocks, threat intelligence); the probes do not', () => {
    const probes = operations.filter(isProbe);
    assert.deepEqual(probes.map((entry) => entry.path).sort(), ['/health', '/ready']);
    assert.deepEqual(
      undocumented(
        operations.filter((entry) => !isProbe(entry)),
        '403',
        'REQUEST_BLOCKED',
      ),
      [],
    );
    for (const probe of probes)
      assert.ok(!probe.operation['x-error-codes']?.includes('REQUEST_BLOCKED'), `${name(probe)} lists it`);
    const checked = operations.filter((entry) =>
      [...checkedRoutes].some((route) => documentedName(route) === name(entry)),
    );
    assert.equal(checked.length, checkedRoutes.size, 'every threat-checked route is in the document');
  });

  test('every sensitive and threat-challenged route, and only those, documents 403 STEP_UP_REQUIRED', () => {
    const sensitive = operations.filter(isSensitive);
    assert.equal(sensitive.length, sensitiveRoutes.size, 'every sensitive route is in the document');
    const challenged = operations.filter((entry) =>
      [...challengedRoutes].some((route) => documentedName(route) === name(entry)),
    );
    assert.equal(challenged.length, challengedRoutes.size, 'every challenged route is in the document');
    assert.deepEqual(undocumented([...sensitive, ...challenged], '403', 'STEP_UP_REQUIRED'), []);
    const others = operations.filter(
      (entry) =>
        !isSensitive(entry) &&
        !challenged.includes(entry) &&
        entry.operation['x-error-codes']?.includes('STEP_UP_REQUIRED'),
    );
    assert.deepEqual(others.map(name), []);
  });

  test('every route documents 429 RATE_LIMITED', () => {
    assert.deepEqual(undocumented(operations, '429', 'RATE_LIMITED'), []);
  });

  test('every route documents the X-Device-Fingerprint header: optional, bounded and printable', () => {
    const missing: string[] = [];
    for (const entry of operations) {
      const header = entry.operation.parameters?.find(
        (parameter) => parameter.in === 'header' && parameter.name === 'x-device-fingerprint',
      );
      if (!header) {
        missing.push(name(entry));
        continue;
      }
      assert.notEqual(header.required, true, `${name(entry)} requires it`);
      assert.equal(header.schema.maxLength, 256, name(entry));
      assert.equal(header.schema.minLength, 1, name(entry));
      assert.ok(new RegExp(header.schema.pattern ?? '').test('app-install-1234'), name(entry));
      assert.ok(!new RegExp(header.schema.pattern ?? '').test('bad\u0000value'), name(entry));
    }
    assert.deepEqual(missing, []);
  });
});
