import { Module } from '@nestjs/common';
import { ContentHandler } from './content.handler.js';
import { ContentRepository } from './content.repository.js';
import { ContentService } from './content.service.js';

@Module({ providers: [ContentHandler, ContentService, ContentRepository] })
export class ContentModule {}
