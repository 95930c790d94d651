from django.urls import path

from relationships import views

app_name = "relationships"

urlpatterns = [
    path("", views.relationship_list, name="list"),
    path("<int:pk>/", views.relationship_detail, name="detail"),
    path("customers/", views.customer_list, name="customers"),
]
