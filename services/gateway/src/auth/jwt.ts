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

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/**
 * Verifies bearer JWTs with `jose`: HS256 with the shared secret, asymmetric algorithms with the
 * JWKS (fetched, cached and refreshed on unknown `kid` by jose). The algorithm allowed is fixed by
 * the key source, never taken from the token (`alg: none` and HS256-signed-with-the-public-key fail).
 * `sub` is the owner, `role` is `admin` or `user` (default `user`); `exp`/`nbf` are checked.
 */
export class JwtVerifier {
  private readonly secret?: Uint8Array;
  private readonly jwks?: JWTVerifyGetKey;

  constructor(private readonly options: JwtOptions) {
    if (options.secret) this.secret = new TextEncoder().encode(options.secret);
    if (options.jwksUrl) this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  }

  get enabled(): boolean {
    return Boolean(this.secret || this.jwks);
  }

  async verify(token: string): Promise<{ owner: string; role: Role }> {
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
        payload = (await jwtVerify(token, this.secret, { ...verifyOptions, algorithms: ['HS256'] })).payload;
      } else if (alg && ASYMMETRIC.includes(alg) && this.jwks) {
        payload = (await jwtVerify(token, this.jwks, { ...verifyOptions, algorithms: ASYMMETRIC })).payload;
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
    return { owner, role: role as Role };
  }
}
