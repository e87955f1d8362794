// The shared database helpers live in the testing workspace.
export * from "@nps/testing/database"
