// The shared Redis helpers live in the testing workspace.
export * from "@nps/testing/redis"
