import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads an answer of the API (`load`: a typed call of the client) and keeps it; `refreshMs` polls it
 * (quietly: the old data stays on screen while the next answer comes). `path` names what is loaded:
 * a new one loads again from scratch; null loads nothing.
 */
export function useApi<T>(path: string | null, load: () => Promise<T>, refreshMs?: number): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const current = useRef(path);
  current.current = path;

  useEffect(() => {
    setData(undefined);
    setError(undefined);
  }, [path]);

  useEffect(() => {
    if (path === null) return;
    let stopped = false;
    setLoading(true);
    load()
      .then((value) => {
        if (!stopped && current.current === path) {
          setData(value);
          setError(undefined);
        }
      })
      .catch((err: unknown) => {
        if (!stopped && current.current === path) setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)));
      })
      .finally(() => !stopped && setLoading(false));
    return () => {
      stopped = true;
    };
    // `load` is a new closure on every render; `path` names what it loads.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path, tick]);

  useEffect(() => {
    if (!refreshMs || path === null) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, refreshMs);
    return () => clearInterval(timer);
  }, [path, refreshMs]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Runs an action (a POST), keeping its pending state and its error or success message for the UI. */
export function useAction() {
  const [pending, setPending] = useState(false);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const run = useCallback(async (action: () => Promise<unknown>, success: string): Promise<boolean> => {
    setPending(true);
    setMessage(null);
    try {
      await action();
      setMessage({ kind: 'ok', text: success });
      return true;
    } catch (err) {
      setMessage({ kind: 'error', text: err instanceof ApiError ? `${err.message} (${err.code})` : String(err) });
      return false;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, message, run, clear: () => setMessage(null) };
}
