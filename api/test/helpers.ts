// The shared database, app and request helpers live in the testing workspace.
export * from "@nps/testing/api"
