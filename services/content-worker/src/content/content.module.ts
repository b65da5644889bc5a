import { Module, type DynamicModule } from '@nestjs/common';
import { TaskLifecycleModule } from '@roadmap/workflow';
import { ContentHandler } from './content.handler.js';
import { ContentRepository } from './content.repository.js';
import { CONTENT_OPTIONS, ContentService, type ContentOptions } from './content.service.js';

@Module({})
export class ContentModule {
  static forRoot(options: ContentOptions): DynamicModule {
    return {
      module: ContentModule,
      imports: [TaskLifecycleModule.forRoot(options.dispatch)],
      providers: [ContentHandler, ContentService, ContentRepository, { provide: CONTENT_OPTIONS, useValue: options }],
    };
  }
}
