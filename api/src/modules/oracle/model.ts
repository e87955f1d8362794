import { t } from "elysia"

export const Profile = t.Object({
  id: t.Integer(),
  name: t.String(),
  birthday: t.String({ format: "date" }),
  created_at: t.String(),
})

export const CreateProfileBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 100 }),
  birthday: t.String({ format: "date", description: "YYYY-MM-DD" }),
})
