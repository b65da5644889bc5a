export { startFakeOpenAi, lastJsonBlock, type FakeOpenAi, type FakeOpenAiOptions, type FakeFault, type FakeRequest } from './fake-openai.js';
export { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from './database.js';
