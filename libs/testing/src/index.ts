export { startFakeOpenAi, lastJsonBlock, type FakeOpenAi, type FakeOpenAiOptions, type FakeFault, type FakeRequest } from './fake-openai.js';
