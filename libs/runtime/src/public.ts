import { SetMetadata } from '@nestjs/common';

/** Metadata key of routes that need no credential (health, readiness, metrics). */
export const PUBLIC_ROUTE = 'roadmap:public-route';

/** Marks a controller or handler as open: the gateway's global auth guard lets it through. */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(PUBLIC_ROUTE, true);
