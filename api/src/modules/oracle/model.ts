import { t } from "elysia"
import { CalendarDate, Text } from "../../model"

export const Profile = t.Object({
  id: t.Integer(),
  name: t.String(),
  birthday: t.String({ format: "date" }),
  created_at: t.String(),
})

export const CreateProfileBody = t.Object({
  name: Text({ minLength: 1, maxLength: 100 }),
  birthday: CalendarDate(),
})
