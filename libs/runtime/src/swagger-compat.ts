/**
 * `@ApiExcludeController` without making @nestjs/swagger a dependency of every worker: workers have
 * no OpenAPI document, the gateway's document must not list health routes.
 */
export function ApiExcludeController(): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata('swagger/apiExcludeController', [true], target);
  };
}
