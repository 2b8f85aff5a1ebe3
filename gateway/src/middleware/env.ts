import type { Principal } from './auth';

/** The variables middleware hands to handlers. */
export interface AppEnv {
  Variables: {
    requestId: string;
    principal: Principal | null;
  };
}
