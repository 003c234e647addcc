import { REQUEST_NOTIFICATION_STATUS, type HttpContext, type HttpModule } from 'w3core';

/**
 * A TypeScript module in the integrated pipeline. It answers `/hello` itself and adds a header
 * to every other response on its way out.
 */
export class HelloModule implements HttpModule {
  onBeginRequest(ctx: HttpContext) {
    if (ctx.request.path !== '/hello') return REQUEST_NOTIFICATION_STATUS.CONTINUE;
    const name = ctx.request.query.get('name') ?? 'world';
    ctx.response.setHeader('Content-Type', 'text/plain; charset=utf-8');
    ctx.response.write(`Hello, ${name}, from the ${ctx.application.applicationPool} pool.\n`);
    return REQUEST_NOTIFICATION_STATUS.FINISH_REQUEST;
  }

  onSendResponse(ctx: HttpContext) {
    ctx.response.setHeader('X-Hello-Module', 'seen');
  }
}
