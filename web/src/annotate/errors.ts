// What a failed request says to the expert.

import { ApiError } from '../shared/client';

export function errorText(error: unknown, role?: string): string {
  if (error instanceof ApiError) {
    if (error.status === 403 && role) return `not allowed for your role (${role}): ${error.detail}`;
    return error.detail;
  }
  return error instanceof Error ? error.message : String(error);
}
