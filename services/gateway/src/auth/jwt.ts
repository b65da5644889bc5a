import { UnauthenticatedError } from '@roadmap/contracts';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ROLES, type Role } from './api-keys.js';

export interface JwtOptions {
  /** HS256 shared secret (AUTH_JWT_SECRET). */
  readonly secret?: string;
  /** JWKS of an identity provider, for RS256/ES256/PS256/EdDSA tokens (AUTH_JWKS_URL). */
  readonly jwksUrl?: string;
  readonly issuer?: string;
  readonly audience?: string;
}

/** Tokens remembered as verified, and for how long at most (never past their `exp`). */
const VERIFIED_CACHE_SIZE = 10_000;
const VERIFIED_CACHE_MS = 60_000;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/**
 * Verifies bearer JWTs with `jose`: HS256 with the shared secret, asymmetric algorithms with the
 * JWKS (fetched, cached and refreshed on unknown `kid` by jose). The algorithm allowed is fixed by
 * the key source, never taken from the token (`alg: none` and HS256-signed-with-the-public-key fail).
 * `sub` is the owner, `role` is `admin` or `user` (default `user`); `exp`/`nbf` are checked.
 *
 * A token that verified is remembered (up to 10,000 tokens, each for at most a minute and never past
 * its `exp`): a client sends the same token with every request, and the signature check (WebCrypto,
 * a thread-pool job per call) was a third of the gateway's CPU per accepted roadmap under load. A
 * token that failed is never remembered.
 */
export class JwtVerifier {
  private readonly secret?: Uint8Array;
  private readonly jwks?: JWTVerifyGetKey;
  private readonly verified = new Map<string, { principal: { owner: string; role: Role }; until: number }>();

  /** `verifySignature` is jose's `jwtVerify` (a test counts the checks through it). */
  constructor(
    private readonly options: JwtOptions,
    private readonly verifySignature: typeof jwtVerify = jwtVerify,
  ) {
    if (options.secret) this.secret = new TextEncoder().encode(options.secret);
    if (options.jwksUrl) this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  }

  get enabled(): boolean {
    return Boolean(this.secret || this.jwks);
  }

  async verify(token: string): Promise<{ owner: string; role: Role }> {
    const known = this.verified.get(token);
    if (known) {
      if (known.until > Date.now()) return known.principal;
      this.verified.delete(token);
    }
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new UnauthenticatedError('The bearer token is neither an API key nor a JWT');
    }
    const verifyOptions = { issuer: this.options.issuer, audience: this.options.audience, requiredClaims: ['sub'] };
    let payload: Record<string, unknown>;
    try {
      if (alg === 'HS256' && this.secret) {
        payload = (await this.verifySignature(token, this.secret, { ...verifyOptions, algorithms: ['HS256'] })).payload;
      } else if (alg && ASYMMETRIC.includes(alg) && this.jwks) {
        payload = (await this.verifySignature(token, this.jwks, { ...verifyOptions, algorithms: ASYMMETRIC })).payload;
      } else {
        throw new UnauthenticatedError(`JWTs signed with ${alg ?? 'no algorithm'} are not accepted`);
      }
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw error;
      const code = (error as { code?: string }).code;
      throw new UnauthenticatedError(code === 'ERR_JWT_EXPIRED' ? 'The JWT has expired' : 'The JWT is not valid');
    }
    const owner = payload.sub;
    const role = payload.role ?? 'user';
    if (typeof owner !== 'string' || owner.length === 0 || owner.length > 200) throw new UnauthenticatedError('The JWT has no usable sub');
    if (!ROLES.includes(role as Role)) throw new UnauthenticatedError('The JWT role must be admin or user');
    const principal = { owner, role: role as Role };
    this.remember(token, principal, typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY);
    return principal;
  }

  private remember(token: string, principal: { owner: string; role: Role }, expiresAt: number): void {
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      // The oldest entry goes (a Map keeps insertion order).
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { principal, until: Math.min(Date.now() + VERIFIED_CACHE_MS, expiresAt) });
  }
}
