import { type AppInstance, buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config/config.ts';
import { openTestDatabase, type TestDatabase } from './database.ts';

/** An application on its own copy of the test database, ready for app.inject. */
export interface TestApp {
  app: AppInstance;
  database: TestDatabase;
  close(): Promise<void>;
}

export async function startTestApp(config: Config): Promise<TestApp> {
  const database = await openTestDatabase();
  const app = await buildApp({ config, database, logger: false });
  await app.ready();
  return {
    app,
    database,
    close: async () => {
      await app.close();
      await database.close();
    },
  };
}
