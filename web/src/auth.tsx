// Who is signed in. The access token lives in memory (api/client.ts); a reload signs back in
// through the HttpOnly refresh cookie.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { api, session, unwrap, type Schemas, type User } from "./api/client";

type Status = "loading" | "signed-out" | "signed-in";

type Auth = {
  status: Status;
  user: User | null;
  login: (email: string, password: string) => Promise<void>;
  signup: (body: Schemas["SignupBody"]) => Promise<void>;
  logout: () => Promise<void>;
  reloadUser: () => Promise<void>;
};

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>("loading");
  const [user, setUser] = useState<User | null>(null);

  const signedOut = useCallback(() => {
    setUser(null);
    setStatus("signed-out");
  }, []);

  const reloadUser = useCallback(async () => {
    setUser(await unwrap(api.GET("/api/auth/me")));
    setStatus("signed-in");
  }, []);

  useEffect(() => {
    const unsubscribe = session.onExpired(signedOut);
    (async () => {
      if (!session.resumable || !(await session.refresh())) return signedOut();
      try {
        await reloadUser();
      } catch {
        signedOut();
      }
    })();
    return () => {
      unsubscribe();
    };
  }, [reloadUser, signedOut]);

  const begin = useCallback((auth: Schemas["AuthResponse"]) => {
    session.start(auth);
    setUser(auth.user);
    setStatus("signed-in");
  }, []);

  const login = useCallback(
    async (email: string, password: string) => begin(await unwrap(api.POST("/api/auth/login", { body: { email, password } }))),
    [begin],
  );

  const signup = useCallback(
    async (body: Schemas["SignupBody"]) => begin(await unwrap(api.POST("/api/auth/signup", { body }))),
    [begin],
  );

  const logout = useCallback(async () => {
    const access = session.token;
    session.clear();
    signedOut();
    // No refresh token in the body: the server ends the bearer's session and clears the cookie.
    const headers = access ? { Authorization: `Bearer ${access}` } : undefined;
    await api.POST("/api/auth/logout", { body: { refresh_token: "" }, headers }).catch(() => undefined);
  }, [signedOut]);

  const value = useMemo(() => ({ status, user, login, signup, logout, reloadUser }), [status, user, login, signup, logout, reloadUser]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

/** The signed-in user (pages under the shell only render when there is one). */
export function useUser(): User {
  const { user } = useAuth();
  if (!user) throw new Error("useUser while signed out");
  return user;
}
