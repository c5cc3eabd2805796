import type { Role } from "../api/types";

// What each role may do in the console, mirroring the API's policy table
// (backend/api/graphql/permissions.py): the API refuses anything else anyway, the console
// just does not offer it.
export type Capability = "investigate" | "decide" | "readNotes" | "admin";

const CAPABILITIES: Record<Role, ReadonlySet<Capability>> = {
  analyst: new Set(["investigate", "decide", "readNotes"]),
  admin: new Set(["investigate", "decide", "readNotes", "admin"]),
  bantool: new Set(),
};

export function can(role: Role | undefined, capability: Capability): boolean {
  return role !== undefined && (CAPABILITIES[role]?.has(capability) ?? false);
}
